"""The load tool as a deployment gate, run for a few seconds against the real
stack: it passes a healthy one (thresholds loose, so no timing decides), fails
the same one under a latency threshold no run can meet (0 s), and fails one
whose model is down, naming the error code."""
import asyncio
import json
import subprocess
import sys

from tests.reliability.conftest import POOL
from tests.support.services import REPO


def loadtest(*args: str, json_out=None) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "loadtest", "--duration", "6", "--warmup", "1", "--wpm", "600",
           "--max-p90-ttft", "60", *args]
    if json_out:
        cmd += ["--json", str(json_out)]
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)
    return r.returncode, r.stdout + r.stderr


def test_passes_a_healthy_stack_through_the_backend(healthy, tmp_path):
    # One alternative each: three writers' requests fit the tiny instance's batch without queueing.
    rc, out = loadtest("--url", healthy.backend.url, "--writers", "3", "--max-tokens", "8", "--n", "1",
                       "--max-error-rate", "0", json_out=tmp_path / "r.json")
    assert rc == 0, out
    (stage,) = json.loads((tmp_path / "r.json").read_text())["stages"]
    assert stage["completed"] > 0 and stage["errors"] == 0 and stage["ttft_samples"] > 0, stage
    assert set(stage["autosaves"]) <= {"200"}, stage  # the writers' drafts were saved as they typed


def test_fails_a_healthy_stack_that_misses_its_latency_threshold(healthy, tmp_path):
    # A p90 TTFT of 0 s cannot be met (every first token takes some time), so the
    # same healthy run as above must now fail: the gate's threshold really decides.
    rc, out = loadtest("--url", healthy.backend.url, "--writers", "3", "--max-tokens", "8", "--n", "1",
                       "--max-error-rate", "0", "--max-p90-ttft", "0", json_out=tmp_path / "r.json")
    assert rc == 1, out
    (stage,) = json.loads((tmp_path / "r.json").read_text())["stages"]
    assert stage["errors"] == 0 and stage["ttft_samples"] > 0, stage
    assert any(m.startswith("p90 time to first token ") for m in stage["missed"]), stage


async def test_fails_a_stack_whose_model_is_down(healthy, tmp_path):
    for path in healthy.faults.values():
        path.touch()
    for iid in healthy.instances:
        await asyncio.to_thread(healthy.lb.wait_status, POOL, iid, "DOWN")
    # --model: the backend reports no model available, and the gate must still run and fail.
    rc, out = await asyncio.to_thread(loadtest, "--url", healthy.backend.url, "--model", "tiny-gpt2",
                                      "--writers", "2", json_out=tmp_path / "r.json")
    assert rc == 1, out
    (stage,) = json.loads((tmp_path / "r.json").read_text())["stages"]
    assert stage["error_codes"].get("model_unavailable", 0) > 0 and stage["completed"] == 0, stage
    assert "error rate" in out


def test_refuses_anything_but_loopback():
    rc, out = loadtest("--ws", "ws://192.0.2.1:8080/smollm2/ws")
    assert rc == 2 and "loopback" in out
