"""What the one-machine stack runs: which model instances (cloned or skipped),
on which ports, and the files supervisord and the services read (all under var/).

Pure planning, no processes: `stack.run` turns a plan into running services.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from contract.registry import REPO_ROOT, Registry, load, parse
from microservices.weights import availability

from . import haproxy_config, postgres, prometheus, supervision

HOST = "127.0.0.1"


@dataclass
class Settings:
    registry: Path
    var_dir: Path = REPO_ROOT / "var"
    web_port: int = 8000
    lb_port: int = 8080
    stats_port: int = 8404
    redis_port: int = 6390
    # route -> how many instances of it to run; routes not named keep the registry's count
    counts: dict[str, int] = field(default_factory=dict)
    # when set, started instances are renumbered onto ports from here up
    instance_port_base: int | None = None
    web: bool = True
    health_timeout: float = 300  # seconds stack.status waits before it stops the stack
    postgres: bool = False  # run a PostgreSQL cluster in var/postgres (stack.postgres) for the backend
    postgres_port: int = 5433
    monitoring: bool = False  # run Prometheus with the rules of stack.prometheus
    prometheus_port: int = 9090
    python: str = sys.executable


@dataclass
class Plan:
    settings: Settings
    registry: Registry  # the effective registry: started instances only
    skipped: list[tuple[str, str]]  # (instance id, why)
    web_reason: str = ""  # why the web backend is not started ("" = it is)

    @property
    def instances(self):
        return self.registry.instances

    @property
    def url(self) -> str:
        s = self.settings
        return f"http://{HOST}:{s.web_port}/" if self.web_reason == "" else f"http://{HOST}:{s.lb_port}/"


def parse_counts(text: str) -> dict[str, int]:
    """`smollm2=2,gpt2=0` -> {"smollm2": 2, "gpt2": 0}."""
    counts = {}
    for item in filter(None, (p.strip() for p in re.split(r"[,\s]+", text or ""))):
        route, sep, n = item.partition("=")
        if not sep or not n.isdigit():
            raise ValueError(f"instance count {item!r} is not ROUTE=N (e.g. smollm2=2)")
        counts[route] = int(n)
    return counts


def _clone_id(source_id: str, k: int) -> str:
    # smollm2-1 -> smollm2-2, smollm2-3 ...; ids without a number get one.
    m = re.match(r"^(.*?)-?(\d+)$", source_id)
    stem = m.group(1) if m else source_id
    return f"{stem}-{k}"


def _scale(raw_instances: list[dict], reg: Registry, counts: dict[str, int], reserved: set[int]) -> list[dict]:
    """Registry instances, cloned or trimmed so each named route has its count.
    A clone copies its source (same routes) on the next free port."""
    unknown = set(counts) - set(reg.models)
    if unknown:
        raise ValueError(f"--instances names unknown routes {sorted(unknown)}; the registry has {sorted(reg.models)}")
    out = [dict(i) for i in raw_instances]
    used_ports = {i["port"] for i in out} | reserved
    used_ids = {i["id"] for i in out}
    for route, want in counts.items():
        serving = [i for i in out if route in i["routes"]]
        if not serving and want:
            raise ValueError(f"route {route!r} has no instance in the registry to clone")
        for extra in serving[want:]:
            out.remove(extra)
        k = len(serving)
        while k < want:
            src = serving[-1]
            k += 1
            new_id, n = _clone_id(src["id"], k), k
            while new_id in used_ids:
                n += 1
                new_id = _clone_id(src["id"], n)
            port = src["port"] + 1
            while port in used_ports:
                port += 1
            clone = {**src, "id": new_id, "port": port}
            out.append(clone)
            serving.append(clone)
            used_ids.add(new_id)
            used_ports.add(port)
    return out


def make_plan(settings: Settings, check_weights=availability) -> Plan:
    """Decide what to run. Instances whose weights are missing are skipped with
    the reason; counts clone or trim instances per route."""
    reg = load(settings.registry)
    raw = yaml.safe_load(Path(settings.registry).read_text())
    s = settings
    reserved = {s.web_port, s.lb_port, s.stats_port, s.redis_port}
    wanted = _scale([i.model_dump(mode="json") for i in reg.instances], reg, s.counts, reserved)

    started, skipped = [], []
    for inst in wanted:
        ok, why = check_weights(reg.base_of(inst["routes"][0]))
        if ok:
            started.append(inst)
        else:
            skipped.append((inst["id"], why))
    if s.instance_port_base is not None:
        for n, inst in enumerate(started):
            inst["port"] = s.instance_port_base + n
    for inst in started:
        inst["host"] = HOST
        inst["routes"] = list(inst["routes"])

    raw["instances"] = started
    effective = parse(raw, str(s.var_dir / "registry.yaml"))
    web_reason = ""
    if not s.web:
        web_reason = "disabled (--no-web)"
    elif not (REPO_ROOT / "manage.py").exists() or not (REPO_ROOT / "backend" / "asgi.py").exists():
        web_reason = "backend/ is not there yet"
    return Plan(settings=s, registry=effective, skipped=skipped, web_reason=web_reason)


def busy_ports(plan: Plan) -> list[int]:
    """Ports of this plan that something else already listens on."""
    busy = []
    for port in ports(plan):
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError:
                busy.append(port)
    return busy


def ports(plan: Plan) -> list[int]:
    s = plan.settings
    out = [s.redis_port, s.lb_port, s.stats_port] + [i.port for i in plan.instances]
    out += [s.postgres_port] if s.postgres else []
    out += [s.prometheus_port] if s.monitoring else []
    return out + ([s.web_port] if not plan.web_reason else [])


def env(plan: Plan) -> dict[str, str]:
    """Environment every process gets (also written to var/.env for running
    manage.py by hand; the secret key is not in it, see stack.secret)."""
    s = plan.settings
    out = {
        "WRITEUP_REGISTRY": str(s.var_dir / "registry.yaml"),
        "WRITEUP_UPSTREAM": f"http://{HOST}:{s.lb_port}",
        # The models list reads each route's state from HAProxy's own checks.
        "WRITEUP_LB_STATS_URL": f"http://{HOST}:{s.stats_port}/stats",
        "REDIS_URL": f"redis://{HOST}:{s.redis_port}/0",
        "PYTHONUNBUFFERED": "1",
    }
    # daphne listens on loopback only: whatever reaches it from outside came
    # through a proxy on this machine (an operator's nginx or HAProxy), whose
    # X-Forwarded-For names the writer that throttles and lockouts count.
    out["WRITEUP_TRUSTED_PROXIES"] = os.environ.get("WRITEUP_TRUSTED_PROXIES", HOST)
    # The database lives with the rest of this run's state unless one is configured.
    if s.postgres:
        out["DATABASE_URL"] = postgres.url(s.postgres_port)
    elif "DATABASE_URL" not in os.environ:
        out["DATABASE_URL"] = f"sqlite:///{s.var_dir / 'db.sqlite3'}"
    return out


def programs(plan: Plan) -> list[supervision.Program]:
    """Every process of the stack, in start order, for supervisord."""
    s, q = plan.settings, shlex.quote
    py, var = q(s.python), s.var_dir
    progs = [supervision.Program("postgres", postgres.command(var, s.postgres_port), 5)] if s.postgres else []
    progs += [
        # --save '' and no AOF: the channel layer and cache need no persistence.
        supervision.Program("redis", f"redis-server --bind {HOST} --port {s.redis_port} --save '' --appendonly no "
                            f"--pidfile {q(str(var / 'redis.pid'))} --dir {q(str(var))} --logfile ''", 10),
    ]
    # Instances share this machine's cores instead of each taking all of them
    # (oversubscribed torch threads slow every instance down); WRITEUP_THREADS wins.
    threads = "" if os.environ.get("WRITEUP_THREADS") else \
        f" --threads {max(1, (os.cpu_count() or 1) // max(1, len(plan.instances)))}"
    for inst in plan.instances:
        progs.append(supervision.Program(
            inst.id, f"{py} -m microservices.server --instance {q(inst.id)} "
            f"--registry {q(str(var / 'registry.yaml'))} --host {HOST} --port {inst.port}{threads}", 20))
    progs.append(supervision.Program("haproxy", f"haproxy -db -f {q(str(var / 'haproxy.cfg'))}", 30))
    if s.monitoring:
        progs.append(supervision.Program(
            "prometheus", f"prometheus --config.file={q(str(var / 'prometheus' / 'prometheus.yml'))} "
            f"--storage.tsdb.path={q(str(var / 'prometheus' / 'data'))} --storage.tsdb.retention.time=7d "
            f"--web.listen-address={HOST}:{s.prometheus_port}", 35))
    if not plan.web_reason:
        progs.append(supervision.Program("web", f"{py} -m daphne -b {HOST} -p {s.web_port} backend.asgi:application", 40))
    # The watcher is not restarted: when the stack never gets healthy it stops supervisord itself.
    progs.append(supervision.Program(
        "status", f"{py} -m stack.status --timeout {s.health_timeout:g} "
        f"--stop-stack {q(str(var / 'supervisord.pid'))} {q(str(var / 'stack.json'))}", 50, autorestart=False))
    return progs


def status_spec(plan: Plan) -> dict:
    """What stack.status checks, and what it reports as skipped."""
    s = plan.settings
    services = [{"name": "postgres", "kind": "listening", "address": f"{HOST}:{s.postgres_port}"}] if s.postgres else []
    services.append({"name": "redis", "kind": "redis", "address": f"{HOST}:{s.redis_port}"})
    for inst in plan.instances:
        services.append({"name": inst.id, "kind": "microservice", "address": f"{HOST}:{inst.port}",
                         "routes": list(inst.routes)})
    services.append({"name": "haproxy", "kind": "haproxy", "address": f"{HOST}:{s.lb_port}",
                     "stats": f"http://{HOST}:{s.stats_port}/stats",
                     "servers": {r: [i.id for i in plan.registry.instances_for(r)] for r in plan.registry.models}})
    if s.monitoring:
        services.append({"name": "prometheus", "kind": "web", "address": f"{HOST}:{s.prometheus_port}",
                         "path": "/-/ready"})
    if not plan.web_reason:
        services.append({"name": "web", "kind": "web", "address": f"{HOST}:{s.web_port}", "path": "/api/session/"})
    skipped = [{"name": iid, "why": why} for iid, why in plan.skipped]
    if plan.web_reason:
        skipped.append({"name": "web", "why": plan.web_reason})
    return {"url": plan.url, "services": services, "skipped": skipped}


def write(plan: Plan) -> dict[str, Path]:
    """Write var/registry.yaml, haproxy.cfg, supervisord.conf, .env and stack.json."""
    s = plan.settings
    s.var_dir.mkdir(parents=True, exist_ok=True)
    reg = plan.registry
    raw = yaml.safe_load(Path(s.registry).read_text())
    raw["instances"] = [i.model_dump(mode="json") for i in reg.instances]
    files = {
        "registry": s.var_dir / "registry.yaml",
        "haproxy": s.var_dir / "haproxy.cfg",
        "supervisord": s.var_dir / "supervisord.conf",
        "env": s.var_dir / ".env",
        "status": s.var_dir / "stack.json",
    }
    files["registry"].write_text(
        f"# Generated by stack/plan.py from {s.registry}: the instances this run starts.\n"
        + yaml.safe_dump(raw, sort_keys=False)
    )
    files["haproxy"].write_text(haproxy_config.render(
        reg, port=s.lb_port, stats_port=s.stats_port, stats_socket=str(s.var_dir / "haproxy.sock"),
        pidfile=str(s.var_dir / "haproxy.pid"), log_target="stdout format raw local0",
    ))
    (s.var_dir / "log").mkdir(exist_ok=True)
    files["supervisord"].write_text(supervision.render(programs(plan), s.var_dir, REPO_ROOT))
    files["env"].write_text("".join(f"{k}={v}\n" for k, v in env(plan).items()))
    files["status"].write_text(json.dumps(status_spec(plan), indent=2))
    if s.monitoring:
        (s.var_dir / "prometheus").mkdir(exist_ok=True)
        rendered = prometheus.render(reg, haproxy_targets=[f"{HOST}:{s.stats_port}"],
                                     backend_targets=[f"{HOST}:{s.web_port}"],
                                     rules_path=str(s.var_dir / "prometheus" / "writeup-rules.yml"))
        for name, text in rendered.items():
            files[name] = s.var_dir / "prometheus" / name
            files[name].write_text(text)
    return files
