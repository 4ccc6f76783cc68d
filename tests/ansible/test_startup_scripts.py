"""Instance start-up scripts: shellcheck clean, and a real run of each in its
render-only mode (ansible-pull of this repository applying the roles to
localhost, into a temporary folder), twice: the second run changes nothing.
Their shared header is copied, not sourced, and must stay the same in both."""
import difflib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import REPO

SCRIPTS = sorted((REPO / "startup-scripts").glob("*.sh"))
VENV_BIN = Path(sys.executable).parent


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck is not installed (scripts/setup installs it)")
@pytest.mark.parametrize("script", [*SCRIPTS, REPO / "scripts/start"], ids=lambda p: p.name)
def test_shellcheck_clean(script):
    proc = subprocess.run(["shellcheck", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


HEADER_START, HEADER_END = "# --- shared header:", "# --- end of shared header ---"


def shared_header(script: Path) -> str:
    """The lines between the markers, with the script's own log tag made generic."""
    lines = script.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(HEADER_START)]
    ends = [i for i, line in enumerate(lines) if line == HEADER_END]
    assert len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0], f"{script.name}: shared-header markers"
    return "\n".join(lines[starts[0]:ends[0] + 1]).replace(f"%s {script.stem}: %s", "%s TAG: %s")


def test_the_scripts_share_one_header():
    # Each script is pasted into instance metadata as one file, so the header is
    # copied rather than sourced; this keeps the copies from drifting apart.
    assert [p.name for p in SCRIPTS] == ["backend.sh", "gpu-worker.sh"]
    backend, worker = (shared_header(p) for p in SCRIPTS)
    assert "%s TAG: %s" in backend and "load_settings()" in backend and "retry()" in backend
    assert backend == worker, "".join(difflib.unified_diff(
        backend.splitlines(True), worker.splitlines(True), "backend.sh", "gpu-worker.sh"))


def test_a_drifted_header_is_caught(tmp_path):
    drifted = tmp_path / "gpu-worker.sh"
    drifted.write_text((REPO / "startup-scripts/gpu-worker.sh").read_text().replace(
        "WRITEUP_RETRIES:-6", "WRITEUP_RETRIES:-3"))
    assert shared_header(drifted) != shared_header(REPO / "startup-scripts/backend.sh")


def run_script(name: str, tmp_path: Path, **settings) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
        "WRITEUP_LOG": str(tmp_path / "startup.log"), "WRITEUP_LOCK": str(tmp_path / "startup.lock"),
        "WRITEUP_STARTUP_ENV": str(tmp_path / "startup.env"), "WRITEUP_BOOTSTRAP_VENV": str(VENV_BIN.parent),
        "WRITEUP_APP_DIR": str(tmp_path / "app"), "WRITEUP_GIT_REPO": str(REPO),
        "WRITEUP_VERSION": subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=REPO, text=True).strip(),
        "WRITEUP_RENDER_DIR": str(tmp_path / "render"), "WRITEUP_ADDRESS": "127.0.0.1", "WRITEUP_RETRIES": "1",
        "WRITEUP_EXTRA_VARS": f'{{"ansible_python_interpreter": "{sys.executable}"}}', "ANSIBLE_NOCOLOR": "1",
        **settings,
    }
    return subprocess.run([str(REPO / "startup-scripts" / name)], env=env, capture_output=True, text=True, timeout=300)


def changed_counts(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"localhost\s+: ok=\d+\s+changed=(\d+)", log)]


needs_ansible = pytest.mark.skipif(not (VENV_BIN / "ansible-pull").exists(), reason="ansible-core is not in the venv")


@needs_ansible
def test_gpu_worker_script_renders_its_units_and_is_idempotent(tmp_path):
    (tmp_path / "startup.env").write_text("WRITEUP_INSTANCES='smollm2-1 gpt2-1'\nWRITEUP_GPU=0\n")
    first = run_script("gpu-worker.sh", tmp_path)
    log = (tmp_path / "startup.log").read_text()
    assert first.returncode == 0, log[-4000:]
    out = tmp_path / "render/localhost"
    unit = (out / "etc/systemd/system/writeup-microservice@.service").read_text()
    assert "--host 127.0.0.1" in unit and "Restart=on-failure" in unit
    assert {p.name for p in (out / "etc/writeup/instances").iterdir()} == {"smollm2-1.env", "gpt2-1.env"}
    assert "gpu-worker: " in log.splitlines()[0]  # every line is stamped and tagged

    second = run_script("gpu-worker.sh", tmp_path)
    log = (tmp_path / "startup.log").read_text()
    assert second.returncode == 0, log[-4000:]
    assert changed_counts(log)[-1] == 0, log[-4000:]


@needs_ansible
def test_backend_script_renders_its_unit(tmp_path):
    proc = run_script("backend.sh", tmp_path, WRITEUP_UPSTREAM="http://10.0.0.10:8080",
                      REDIS_URL="redis://10.0.0.30:6379/0", DATABASE_URL="sqlite:////var/lib/writeup/db.sqlite3",
                      DJANGO_SECRET_KEY="render-only", DJANGO_ALLOWED_HOSTS="writeup.example.com")
    log = (tmp_path / "startup.log").read_text()
    assert proc.returncode == 0, log[-4000:]
    env = (tmp_path / "render/localhost/etc/writeup/backend.env").read_text()
    assert "WRITEUP_UPSTREAM=http://10.0.0.10:8080" in env and "DJANGO_ALLOWED_HOSTS=writeup.example.com" in env
    assert (tmp_path / "render/localhost/etc/systemd/system/writeup-backend.service").exists()


@pytest.mark.parametrize("script,missing", [("gpu-worker.sh", "WRITEUP_INSTANCES"), ("backend.sh", "WRITEUP_UPSTREAM")])
def test_missing_settings_stop_the_script_with_a_reason(tmp_path, script, missing):
    proc = run_script(script, tmp_path)
    assert proc.returncode != 0
    assert missing in (tmp_path / "startup.log").read_text()
