"""HAProxy configuration for one machine, rendered from the model registry.

The template is the loadbalancer role's (`ansible/roles/loadbalancer/templates/
haproxy.cfg.j2`): one template, rendered here for the one-machine stack and by
Ansible for a fleet, so both load balancers route the same way.

    python -m stack.haproxy_config [--registry PATH] [--port N] [-o FILE] [--check]
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jinja2

from contract.registry import REPO_ROOT, Instance, Registry, load

TEMPLATE = REPO_ROOT / "ansible" / "roles" / "loadbalancer" / "templates" / "haproxy.cfg.j2"

# The same settings, with the same values, as ansible/roles/loadbalancer/defaults/main.yml
# (tests/ansible checks they agree); that file says what each one does.
LB_DEFAULTS = {
    "bind": "127.0.0.1",
    "port": 8080,
    "stats_bind": "127.0.0.1",
    "stats_port": 8404,
    "stats_socket": "/run/haproxy/admin.sock",
    "pidfile": "",
    "log_target": "/dev/log local0",
    "maxconn": 4096,
    "retries": 2,
    "timeout_connect": "2s",
    "timeout_client": "60s",
    "timeout_server": "60s",
    "timeout_queue": "5s",
    "timeout_tunnel": "1h",
    "check_inter": "1s",
    "check_fastinter": "500ms",
    "check_downinter": "1s",
    "check_fall": 2,
    "check_rise": 2,
    "check_timeout": "4s",
    "check_host": "localhost",
    "affinity_header": "X-Writeup-Document",
    "affinity_param": "doc",
}


def _environment() -> jinja2.Environment:
    # Ansible's template module renders with trim_blocks on; match it so both
    # renderers give byte-identical files.
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE.parent)),
        trim_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )


def server_entries(instances) -> list[dict]:
    """Registry instances as the template's `instances`: name, host, port, routes."""
    out = []
    for inst in instances:
        if isinstance(inst, Instance):
            inst = inst.model_dump()
        out.append({"name": inst.get("name", inst["id"]), "host": inst["host"], "port": inst["port"],
                    "routes": list(inst["routes"])})
    return out


def render(reg: Registry, instances=None, web_servers=(), discovery=(), resolvers=(), **lb) -> str:
    """The HAProxy config text for `reg`. `instances` defaults to every registry
    instance (pass the ones actually started); `lb` overrides LB_DEFAULTS.
    `discovery` adds DNS-filled server slots per route ({route, dns, port, slots})."""
    unknown = set(lb) - set(LB_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown load balancer settings: {sorted(unknown)}")
    settings = {**LB_DEFAULTS, **lb}
    context = {
        "registry_path": reg.path,
        "lb": settings,
        "routes": list(reg.models),
        "instances": server_entries(reg.instances if instances is None else instances),
        "web": {"bind": settings["bind"], "port": 80, "check_path": "/api/session/", "servers": list(web_servers)},
        "discovery": list(discovery),
        "resolvers": list(resolvers),
    }
    return _environment().get_template(TEMPLATE.name).render(**context)


def check(path: str | Path) -> None:
    """Run `haproxy -c` on a config file; raise RuntimeError with its output."""
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    proc = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"haproxy -c -f {path} failed:\n{proc.stdout}{proc.stderr}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", help="registry file (default $WRITEUP_REGISTRY or config/models.yaml)")
    ap.add_argument("--port", type=int, default=LB_DEFAULTS["port"])
    ap.add_argument("--stats-port", type=int, default=LB_DEFAULTS["stats_port"])
    ap.add_argument("--stats-socket", default=str(REPO_ROOT / "var" / "haproxy.sock"))
    ap.add_argument("-o", "--output", help="write here instead of stdout")
    ap.add_argument("--check", action="store_true", help="validate the result with haproxy -c")
    args = ap.parse_args(argv)
    text = render(load(args.registry), port=args.port, stats_port=args.stats_port,
                  stats_socket=args.stats_socket, log_target="stdout format raw local0")
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    if args.check:
        with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as f:
            f.write(text)
        try:
            check(f.name)
        finally:
            Path(f.name).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
