"""The Ansible deployment: syntax, lint, and a real ansible-playbook run against
localhost in render-only mode, whose files are checked by the tools that will
read them (haproxy -c, systemd-analyze verify)."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from stack import haproxy_config
from tests.support.services import REPO

ANSIBLE = REPO / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOK = BIN / "ansible-playbook"
LINT = BIN / "ansible-lint"

pytestmark = pytest.mark.skipif(not PLAYBOOK.exists(), reason="ansible-core is not installed in the venv (scripts/setup)")


def run(args, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run([str(a) for a in args], cwd=ANSIBLE, env=env, capture_output=True, text=True, **kw)


def render(out: Path, playbook: str = "site.yml", inventory: Path | None = None, *extra) -> subprocess.CompletedProcess:
    # writeup_venv points at this checkout's venv so the rendered units name
    # programs that exist here, which systemd-analyze verify insists on.
    return run([PLAYBOOK, playbook, *(["-i", inventory] if inventory else []),
                "-e", "writeup_render_only=true", "-e", f"writeup_render_dir={out}",
                "-e", "ansible_connection=local", "-e", "ansible_become=false",
                "-e", f"ansible_python_interpreter={sys.executable}",
                "-e", f"writeup_venv={REPO / '.venv'}", "-e", "backend_secret_key=render-only", "-e", "postgresql_password=render-only", *extra], timeout=300)


def recap(output: str) -> dict[str, dict[str, int]]:
    hosts = {}
    for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.M):
        hosts[host] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", counts)}
    return hosts


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("render")
    first = render(out)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    return out, first


def test_syntax_check():
    proc = run([PLAYBOOK, "--syntax-check", "site.yml", "rolling-update.yml"], timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(not LINT.exists(), reason="ansible-lint is not installed in the venv (scripts/setup)")
def test_ansible_lint_is_clean():
    proc = run([LINT, "--nocolor"], timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_render_writes_every_hosts_files(rendered):
    out, first = rendered
    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {
        "lb1/etc/haproxy/haproxy.cfg",
        "redis1/etc/redis/redis.conf",
        "web1/etc/systemd/system/writeup-backend.service",
        "web1/etc/writeup/backend.env",
        "gpu1/etc/systemd/system/writeup-microservice@.service",
        "gpu1/etc/writeup/instances/smollm2-1.env",
        "gpu2/etc/writeup/instances/gpt2-medium-1.env",
        "gpu1/etc/writeup/models.yaml",
        "db1/etc/postgresql/15/main/pg_hba.conf",
        "db1/etc/postgresql/15/main/conf.d/writeup.conf",
        "db1/usr/local/sbin/writeup-pg-backup",
        "db1/usr/local/sbin/writeup-pg-restore",
        "db1/etc/systemd/system/writeup-pg-backup.timer",
        "lb1/etc/prometheus/prometheus.yml",
        "lb1/etc/prometheus/writeup-rules.yml",
    } <= files
    # nothing was installed or started: every host only rendered
    assert all(h["failed"] == 0 for h in recap(first.stdout).values())


def test_second_render_changes_nothing(rendered):
    out, _ = rendered
    again = render(out)
    assert again.returncode == 0, again.stdout[-4000:]
    changed = {host: c["changed"] for host, c in recap(again.stdout).items()}
    assert set(changed) == {"lb1", "web1", "redis1", "gpu1", "gpu2", "db1"}
    assert all(n == 0 for n in changed.values()), again.stdout[-6000:]


def test_rendered_haproxy_config_is_valid_and_follows_the_inventory(rendered):
    out, _ = rendered
    cfg = out / "lb1/etc/haproxy/haproxy.cfg"
    proc = subprocess.run(["haproxy", "-c", "-f", str(cfg)], capture_output=True, text=True)
    assert proc.returncode == 0 and "[WARNING]" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    text = cfg.read_text()
    pool = text.split("backend route_smollm2\n", 1)[1].split("\n\n", 1)[0]
    # both workers list smollm2-1: two servers, at the workers' addresses, on the registry's port
    assert "server gpu1-smollm2-1 10.0.1.11:8101 check" in pool
    assert "server gpu2-smollm2-1 10.0.1.12:8101 check" in pool
    assert "server web1 10.0.0.20:8000 check" in text
    env = dict(line.split("=", 1) for line in (out / "web1/etc/writeup/backend.env").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    assert env["WRITEUP_UPSTREAM"] == "http://10.0.0.10:8080"
    assert env["REDIS_URL"] == "redis://10.0.0.30:6379/0"


# pytest.ini's -ra prints this reason in the summary: a skip here is visible in CI's output.
@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="systemd-analyze is not installed (scripts/setup installs systemd): units NOT verified")
def test_rendered_units_pass_systemd_analyze_verify(rendered, tmp_path):
    out, _ = rendered
    shutil.copy(out / "gpu1/etc/systemd/system/writeup-microservice@.service", tmp_path)
    shutil.copy(out / "web1/etc/systemd/system/writeup-backend.service", tmp_path)
    for unit in ("writeup-microservice@smollm2-1.service", "writeup-backend.service"):
        proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / unit)], capture_output=True, text=True,
                              cwd=tmp_path)
        assert proc.returncode == 0, f"{unit}: {proc.stdout}{proc.stderr}"


def test_rolling_update_renders_too(tmp_path):
    proc = render(tmp_path, "rolling-update.yml")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert set(recap(proc.stdout)) == {"gpu1", "gpu2"}
    # serial: 1 -- one play batch per worker
    assert proc.stdout.count("PLAY [Rolling update of the model instances]") == 2


def test_inventory_naming_an_unknown_instance_fails_early(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        "loadbalancers": {"hosts": {"lb1": {}}}, "backends": {"hosts": {}}, "redis": {"hosts": {}},
        "gpu_workers": {"hosts": {"gpu1": {"microservice_instances": ["nope-7"]}}}}}}))
    proc = render(tmp_path / "out", "site.yml", inventory)
    assert proc.returncode != 0
    assert "nope-7" in proc.stdout and "no instance with that id" in proc.stdout


def test_rendered_prometheus_config_scrapes_the_inventory(rendered):
    out, _ = rendered
    config = yaml.safe_load((out / "lb1/etc/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    targets = {t for c in jobs["writeup-microservice"]["static_configs"] for t in c["targets"]}
    assert {"10.0.1.11:8101", "10.0.1.12:8101"} <= targets
    assert jobs["haproxy"]["static_configs"][0]["targets"] == ["127.0.0.1:8404"]
    if shutil.which("promtool"):
        for args in (["check", "rules", out / "lb1/etc/prometheus/writeup-rules.yml"],
                     ["check", "config", "--syntax-only", out / "lb1/etc/prometheus/prometheus.yml"]):
            proc = subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True)
            assert proc.returncode == 0, proc.stdout + proc.stderr


def test_prometheus_defaults_match_the_one_machine_renderer():
    from stack import prometheus

    defaults = yaml.safe_load((ANSIBLE / "roles/prometheus/defaults/main.yml").read_text())
    for key, value in prometheus.PROM_DEFAULTS.items():
        if key == "rules_path":
            continue  # the stack keeps its rules in var/prometheus/
        assert defaults[f"prometheus_{key}"] == value, key


def test_loadbalancer_defaults_match_the_one_machine_renderer():
    defaults = yaml.safe_load((ANSIBLE / "roles/loadbalancer/defaults/main.yml").read_text())
    for key, value in haproxy_config.LB_DEFAULTS.items():
        ansible_value = defaults[f"loadbalancer_{key}"]
        if isinstance(ansible_value, str) and "{{" in ansible_value:
            continue  # fleet-specific (addresses, ports from shared settings)
        assert ansible_value == value, key
