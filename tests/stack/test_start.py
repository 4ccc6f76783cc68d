"""scripts/start end to end: the whole stack on free loopback ports (Redis,
two instances of one route, HAProxy, the backend), a compose stream from the
browser's socket through the backend and HAProxy to a model, then Ctrl-C
stops every process."""
import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets

from stack.status import READY_LINE
from tests.support.services import REPO, free_port

pytestmark = pytest.mark.skipif(not (REPO / "manage.py").exists(), reason="the backend is not in this checkout")


def processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline:
                found.append(f"{proc.name}: {cmdline}")
    return found


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.fixture(scope="module")
def started(tiny_registry, tmp_path_factory):
    var = tmp_path_factory.mktemp("start") / "var"
    ports = {"--port": free_port(), "--lb-port": free_port(), "--stats-port": free_port(), "--redis-port": free_port(),
             "--instance-port-base": free_port()}
    args = ["scripts/start", "--no-setup", "--registry", str(tiny_registry), "--var-dir", str(var),
            "--instances", "tiny-gpt2=2,tiny-llama=0", "--health-timeout", "240"]
    for flag, port in ports.items():
        args += [flag, str(port)]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, env={**os.environ, "DJANGO_DEBUG": "1"})
    lines: queue.Queue = queue.Queue()
    output: list[str] = []

    def pump():
        for line in proc.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 300
        while True:
            line = lines.get(timeout=max(1, deadline - time.monotonic()))
            assert line is not None, "scripts/start exited:\n" + "".join(output[-80:])
            if READY_LINE in line:
                break
        yield {"proc": proc, "output": output, "var": var, "ports": ports}
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_prints_a_status_table_with_skipped_instances(started):
    text = "".join(started["output"])
    assert "skipping instance missing-1" in text
    for name in ("redis", "tiny-gpt2-1", "tiny-gpt2-2", "haproxy", "web"):
        assert any(name in line and " up " in line for line in started["output"]), name
    web = started["ports"]["--port"]
    assert f"{READY_LINE} http://127.0.0.1:{web}/" in text


def test_backend_answers_and_lists_models(started):
    web = started["ports"]["--port"]
    assert httpx.get(f"http://127.0.0.1:{web}/api/session/", timeout=10).status_code == 200
    models = httpx.get(f"http://127.0.0.1:{web}/api/models/", timeout=10).json()
    assert "tiny-gpt2" in {m["route"] for m in models}


async def test_compose_stream_through_backend_and_haproxy(started):
    web = started["ports"]["--port"]
    url = f"ws://127.0.0.1:{web}/ws/compose/"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{web}", open_timeout=15) as ws:
        await ws.send(json.dumps({"type": "generate", "id": "g1", "model": "tiny-gpt2", "prompt": "Once upon a time",
                                  "params": {"max_tokens": 5, "temperature": 0}}))
        tokens = []
        async with asyncio.timeout(90):
            while True:
                m = json.loads(await ws.recv())
                if m.get("type") == "token":
                    tokens.append(m["text"])
                elif m.get("type") in ("done", "error"):
                    break
    assert m["type"] == "done", m
    assert tokens


def test_ctrl_c_stops_everything(started):
    proc, var, ports = started["proc"], started["var"], started["ports"]
    os.kill(proc.pid, signal.SIGINT)
    proc.wait(30)
    deadline = time.monotonic() + 10
    while processes_mentioning(str(var)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(var)) == []
    assert all(port_is_free(p) for p in ports.values() if p != ports["--instance-port-base"])
    assert port_is_free(ports["--instance-port-base"]) and port_is_free(ports["--instance-port-base"] + 1)
