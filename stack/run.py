"""Start writeup on one machine: Redis, the model instances, HAProxy and the
backend, all on 127.0.0.1 under supervisord, which restarts any of them that
dies while the rest keep running. Ctrl-C stops everything.

    python -m stack.run [--port 8000] [--lb-port 8080] [--instances smollm2=2] ...

`scripts/start` runs `scripts/setup` first and then this. Every option also
reads an environment variable (in brackets in --help).
"""
from __future__ import annotations

import argparse
import os
from contextlib import nullcontext
import shutil
import subprocess
import sys
from pathlib import Path

from contract.registry import REPO_ROOT, RegistryError, registry_path

from . import haproxy_config, plan as planning, postgres, secret


def _env_int(name: str, default: int | None) -> int | None:
    v = os.environ.get(name)
    return int(v) if v else default


def parse_args(argv=None) -> tuple[planning.Settings, bool]:
    e = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=_env_int("WRITEUP_PORT", 8000),
                    help="web app (daphne) port [WRITEUP_PORT, 8000]")
    ap.add_argument("--lb-port", type=int, default=_env_int("WRITEUP_LB_PORT", 8080),
                    help="HAProxy model port [WRITEUP_LB_PORT, 8080]")
    ap.add_argument("--stats-port", type=int, default=_env_int("WRITEUP_STATS_PORT", 8404),
                    help="HAProxy stats page port [WRITEUP_STATS_PORT, 8404]")
    ap.add_argument("--redis-port", type=int, default=_env_int("WRITEUP_REDIS_PORT", 6390),
                    help="Redis port [WRITEUP_REDIS_PORT, 6390]")
    ap.add_argument("--instances", default=e("WRITEUP_INSTANCES", ""),
                    help="instances per route, e.g. smollm2=2,gpt2=0; extra ones clone the registry's "
                         "on the next free ports [WRITEUP_INSTANCES]")
    ap.add_argument("--instance-port-base", type=int, default=_env_int("WRITEUP_INSTANCE_PORT_BASE", None),
                    help="renumber the started instances onto ports from here up [WRITEUP_INSTANCE_PORT_BASE]")
    ap.add_argument("--registry", default=str(registry_path()), help="model registry [WRITEUP_REGISTRY]")
    ap.add_argument("--var-dir", default=e("WRITEUP_VAR_DIR", str(REPO_ROOT / "var")),
                    help="generated files, pidfiles, the database [WRITEUP_VAR_DIR, var/]")
    ap.add_argument("--no-web", action="store_true", help="start the models, Redis and HAProxy only")
    ap.add_argument("--postgres", action="store_true", default=e("WRITEUP_POSTGRES", "") == "1",
                    help="run the backend on a PostgreSQL cluster of its own in var/postgres instead of SQLite "
                         "(to use your own server, set DATABASE_URL instead) [WRITEUP_POSTGRES=1]")
    ap.add_argument("--postgres-port", type=int, default=_env_int("WRITEUP_POSTGRES_PORT", 5433),
                    help="that cluster's port [WRITEUP_POSTGRES_PORT, 5433]")
    ap.add_argument("--monitoring", action="store_true", default=e("WRITEUP_MONITORING", "") == "1",
                    help="also run Prometheus, scraping every instance and HAProxy, with writeup's alert rules "
                         "[WRITEUP_MONITORING=1]")
    ap.add_argument("--prometheus-port", type=int, default=_env_int("WRITEUP_PROMETHEUS_PORT", 9090),
                    help="Prometheus's port [WRITEUP_PROMETHEUS_PORT, 9090]")
    ap.add_argument("--health-timeout", type=float, default=float(e("WRITEUP_HEALTH_TIMEOUT", "300")),
                    help="seconds to wait for every health check before stopping [WRITEUP_HEALTH_TIMEOUT, 300]")
    ap.add_argument("--dry-run", action="store_true", help="write var/ files and print the plan; start nothing")
    a = ap.parse_args(argv)
    try:
        counts = planning.parse_counts(a.instances)
    except ValueError as err:
        ap.error(str(err))
    s = planning.Settings(
        registry=Path(a.registry).resolve(), var_dir=Path(a.var_dir).resolve(), web_port=a.port,
        lb_port=a.lb_port, stats_port=a.stats_port, redis_port=a.redis_port, counts=counts,
        instance_port_base=a.instance_port_base, web=not a.no_web, health_timeout=a.health_timeout,
        postgres=a.postgres, postgres_port=a.postgres_port, monitoring=a.monitoring, prometheus_port=a.prometheus_port,
    )
    return s, a.dry_run


def _fail(msg: str) -> int:
    print(f"writeup: {msg}", file=sys.stderr)
    return 2


def process_env(plan: planning.Plan) -> dict[str, str]:
    """What every process of the stack (and migrate) runs with."""
    env = {**os.environ, **planning.env(plan)}
    # An operator's own key (DJANGO_SECRET_KEY) wins; otherwise this install's.
    env.setdefault("DJANGO_SECRET_KEY", secret.secret_key(plan.settings.var_dir))
    return env


def migrate(plan: planning.Plan, env: dict[str, str]) -> None:
    """The backend's database schema, before daphne starts serving."""
    subprocess.run([plan.settings.python, "manage.py", "migrate", "--noinput"], cwd=REPO_ROOT, env=env, check=True)


def main(argv=None) -> int:
    settings, dry_run = parse_args(argv)
    try:
        plan = planning.make_plan(settings)
    except (RegistryError, ValueError) as err:
        return _fail(str(err))
    for iid, why in plan.skipped:
        print(f"writeup: skipping instance {iid}: {why}")
    if not plan.instances:
        print("writeup: no model instance can start here; the app runs without models")
    if plan.web_reason:
        print(f"writeup: not starting the web backend: {plan.web_reason}")
    busy = planning.busy_ports(plan)
    if busy:
        return _fail(f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are in use; stop what holds them "
                     "or choose others (see --help)")
    for tool in ("redis-server", "haproxy") + (("prometheus",) if settings.monitoring else ()):
        if not shutil.which(tool):
            return _fail(f"{tool} is not installed; run scripts/setup")
    if settings.postgres and postgres.server_bin() is None:
        return _fail("PostgreSQL's server is not installed (Debian package postgresql); run scripts/setup")
    files = planning.write(plan)
    try:
        haproxy_config.check(files["haproxy"])
    except RuntimeError as err:
        return _fail(str(err))
    if dry_run:
        print(files["supervisord"].read_text(), end="")
        return 0
    env = process_env(plan)
    try:
        if settings.postgres:
            postgres.ensure_cluster(settings.var_dir)
        with postgres.running(settings.var_dir, settings.postgres_port) if settings.postgres else nullcontext():
            if not plan.web_reason:
                migrate(plan, env)
    except subprocess.CalledProcessError as err:
        detail = (err.stderr or b"").decode(errors="replace").strip() if isinstance(err.stderr, bytes) else ""
        return _fail(f"{' '.join(map(str, err.cmd[:3]))} failed (output above) {detail}".strip())

    # supervisord takes over this process: it starts every program, restarts any
    # that dies (with backoff when one keeps dying), and on Ctrl-C or SIGTERM
    # stops them all. Children's output goes to var/log/<name>.log.
    supervisord = shutil.which("supervisord", path=str(Path(settings.python).parent)) or shutil.which("supervisord")
    if not supervisord:
        return _fail("supervisord is not installed; run scripts/setup")
    print(f"writeup: logs in {settings.var_dir / 'log'}; "
          f"supervisorctl -c {files['supervisord']} status shows each process", flush=True)
    os.chdir(REPO_ROOT)
    os.execve(supervisord, [supervisord, "-n", "-c", str(files["supervisord"])], env)


if __name__ == "__main__":
    sys.exit(main())
