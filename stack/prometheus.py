"""Prometheus scrape configuration and alert rules, rendered from the model
registry for `scripts/start --monitoring`.

The templates are the prometheus role's (`ansible/roles/prometheus/templates/`):
one pair, rendered here for one machine and by Ansible from a fleet's
inventory, so both watch the same things with the same thresholds.

    python -m stack.prometheus [--registry PATH] [-o DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import jinja2

from contract.registry import REPO_ROOT, Registry, load

from .haproxy_config import server_entries

TEMPLATES = REPO_ROOT / "ansible" / "roles" / "prometheus" / "templates"

# The same settings, with the same values, as ansible/roles/prometheus/defaults/main.yml
# (prometheus_<name> there; tests/ansible checks they agree); that file says what each does.
PROM_DEFAULTS = {
    "site": "writeup",
    "scrape_interval": "15s",
    "evaluation_interval": "15s",
    "rules_path": "/etc/prometheus/writeup-rules.yml",
    "backend_metrics_path": "/metrics",
    "ttft_p90_budget_seconds": 2.0,
    "error_ratio_max": 0.05,
    "queue_fill_max": 0.8,
    "prefix_hit_ratio_min": 0.2,
    "instance_down_for": "1m",
    "slow_for": "10m",
}


def _environment() -> jinja2.Environment:
    # As Ansible's template module renders: trim_blocks on.
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True,
                              keep_trailing_newline=True, undefined=jinja2.StrictUndefined, autoescape=False)


def max_queue(reg: Registry) -> int:
    """The queue length the saturation alert measures against: the smallest
    any model allows, so the alert fires before the first instance refuses."""
    return min((m.limits.max_queue for m in reg.models.values()), default=64) or 1


def render(reg: Registry, instances=None, haproxy_targets=("127.0.0.1:8404",), backend_targets=(),
           **prom) -> dict[str, str]:
    """{"prometheus.yml": ..., "writeup-rules.yml": ...} for `reg`; `prom`
    overrides PROM_DEFAULTS."""
    unknown = set(prom) - set(PROM_DEFAULTS) - {"max_queue"}
    if unknown:
        raise TypeError(f"unknown prometheus settings: {sorted(unknown)}")
    settings = {**PROM_DEFAULTS, "max_queue": max_queue(reg), **prom}
    context = {
        "registry_path": reg.path,
        "prom": settings,
        "instances": server_entries(reg.instances if instances is None else instances),
        "haproxy_targets": list(haproxy_targets),
        "backend_targets": list(backend_targets) if settings["backend_metrics_path"] else [],
    }
    env = _environment()
    return {name: env.get_template(f"{name}.j2").render(**context) for name in ("prometheus.yml", "writeup-rules.yml")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", default=None, help="model registry (default: $WRITEUP_REGISTRY or config/models.yaml)")
    ap.add_argument("-o", "--out", default=".", help="folder to write prometheus.yml and writeup-rules.yml into")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    files = render(load(a.registry), rules_path=str((out / "writeup-rules.yml").resolve()))
    for name, text in files.items():
        (out / name).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
