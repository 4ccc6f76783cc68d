"""The whole stack for browser tests: Redis, HAProxy, the backend serving the
built frontend, the real SmolLM2 model and a tiny second model (so switching
models is tested), all started by `stack.run` on free loopback ports."""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from tests.support.services import REPO, Service, free_port

CHROMIUM = os.environ.get("WRITEUP_CHROMIUM", "/usr/bin/chromium")
PLAYWRIGHT = REPO / "frontend" / "node_modules" / "playwright-core"
DIST = REPO / "frontend" / "dist" / "index.html"
ARTIFACTS = REPO / "artifacts" / "e2e"


def missing_prerequisites() -> list[str]:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium)")
    if not shutil.which("node"):
        missing.append("node")
    if not PLAYWRIGHT.is_dir():
        missing.append("playwright-core (cd frontend && npm ci)")
    if not DIST.exists():
        missing.append("the frontend build (cd frontend && npm run build)")
    if not (REPO / "models" / "smollm2-135m" / "config.json").exists():
        missing.append("the SmolLM2 model (scripts/setup)")
    return missing


def e2e_registry(folder: Path, tiny_registry: Path) -> Path:
    """The real registry's SmolLM2, plus the tiny GPT-2 and a model whose weights are missing."""
    real = yaml.safe_load((REPO / "config" / "models.yaml").read_text())
    tiny = yaml.safe_load(Path(tiny_registry).read_text())
    tiny_gpt2 = {**tiny["models"]["tiny-gpt2"], "name": "Tiny GPT-2 (test)", "limits": {"context": 512}}
    data = {
        "defaults": real["defaults"],
        "models": {"smollm2": real["models"]["smollm2"], "tiny-gpt2": tiny_gpt2, "missing": tiny["models"]["missing"]},
        "instances": [
            {"id": "smollm2-1", "host": "127.0.0.1", "port": free_port(), "routes": ["smollm2"]},
            {"id": "tiny-gpt2-1", "host": "127.0.0.1", "port": free_port(), "routes": ["tiny-gpt2"]},
            {"id": "missing-1", "host": "127.0.0.1", "port": free_port(), "routes": ["missing"]},
        ],
    }
    path = folder / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def warm_up(base: str, route: str, timeout: float = 60) -> None:
    """One short generation through the whole path (backend, HAProxy, model).

    The model list can say "available" before HAProxy's own health check has
    passed; the first scenario should not be the one to find out.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with connect(base.replace("http", "ws", 1) + "/ws/compose/", origin=base, open_timeout=5) as ws:
                ws.send(json.dumps({"type": "generate", "id": "warm-up", "model": route, "prompt": "Hello",
                                    "params": {"max_tokens": 2, "n": 1}}))
                while True:
                    msg = json.loads(ws.recv(timeout=30))
                    if msg.get("type") == "done":
                        return
                    if msg.get("type") == "error":
                        last = msg
                        break
        except Exception as e:  # noqa: BLE001 - not ready yet
            last = e
        time.sleep(1)
    raise TimeoutError(f"{route}: no generation through the stack after {timeout} s: {last}")


@pytest.fixture(scope="session")
def e2e_stack(tmp_path_factory, tiny_registry):
    missing = missing_prerequisites()
    if missing:
        pytest.skip("browser tests need " + ", ".join(missing))
    folder = tmp_path_factory.mktemp("e2e-stack")
    registry = e2e_registry(folder, tiny_registry)
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        models = {m["route"]: m for m in httpx.get(f"{base}/api/models/", timeout=3).json()}
        return models["smollm2"]["available"] and models["tiny-gpt2"]["available"]

    args = [sys.executable, "-m", "stack.run", "--registry", str(registry), "--var-dir", str(folder / "var"),
            "--port", str(port), "--lb-port", str(free_port()), "--stats-port", str(free_port()),
            "--redis-port", str(free_port())]
    # The voting scenario's accounts are minutes old; count their votes as the stack would a day later.
    stack = Service(f"e2e-stack-{port}", args, ready, {"WRITEUP_VOTE_MIN_ACCOUNT_AGE_HOURS": "0"}, log_dir=folder)
    stack.start(timeout=300)
    try:
        for route in ("smollm2", "tiny-gpt2"):
            warm_up(base, route)
    except Exception:
        stack.stop()
        raise
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield base
    stack.stop()
