"""scripts/start end to end: the whole stack on free loopback ports (Redis,
two instances of one route, HAProxy, the backend), a compose stream from the
browser's socket through the backend and HAProxy to a model; supervisord
bringing back a model instance, the web app and Redis after `kill -9` while
the rest keep running; then Ctrl-C stops every process."""
import asyncio
import contextlib
import json
import csv
import io
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import websockets

from stack.status import READY_LINE
from tests.support.services import REPO, free_port, free_port_block

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


@contextlib.contextmanager
def launch(tiny_registry, var: Path, *extra: str, ports: dict | None = None):
    """scripts/start on free ports until its ready line; stopped (SIGTERM to
    supervisord, which stops its children) when the block ends."""
    ports = ports or {}
    ports = {"--port": free_port(), "--lb-port": free_port(), "--stats-port": free_port(), "--redis-port": free_port(),
             "--instance-port-base": free_port_block(4), **ports}
    args = ["scripts/start", "--no-setup", "--registry", str(tiny_registry), "--var-dir", str(var),
            "--health-timeout", "240", *extra]
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
            # supervisord's children sit in process groups of their own: TERM lets it stop them.
            proc.terminate()
            try:
                proc.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


@pytest.fixture(scope="module")
def started(tiny_registry, tmp_path_factory):
    var = tmp_path_factory.mktemp("start") / "var"
    with launch(tiny_registry, var, "--instances", "tiny-gpt2=2,tiny-llama=0") as stack:
        yield stack


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


def supervised_pid(var: Path, name: str) -> int:
    """The pid supervisord runs `name` under (0 while it is not running)."""
    ctl = Path(sys.executable).parent / "supervisorctl"
    out = subprocess.run([str(ctl), "-c", str(var / "supervisord.conf"), "pid", name],
                         capture_output=True, text=True, timeout=15).stdout.strip()
    return int(out) if out.isdigit() else 0


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.3)
    raise TimeoutError(f"{what} not true after {timeout} s")


def haproxy_states(started) -> dict[str, str]:
    stats = f"http://127.0.0.1:{started['ports']['--stats-port']}/stats;csv"
    rows = csv.DictReader(io.StringIO(httpx.get(stats, timeout=5).text.lstrip("# ")))
    return {r["svname"]: r["status"] for r in rows if r["pxname"] == "route_tiny-gpt2"}


async def stream(web: int, rid: str, max_tokens: int = 5, on_first_token=None) -> tuple[list[str], dict]:
    url = f"ws://127.0.0.1:{web}/ws/compose/"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{web}", open_timeout=15) as ws:
        await ws.send(json.dumps({"type": "generate", "id": rid, "model": "tiny-gpt2", "prompt": "Once upon a time",
                                  "params": {"max_tokens": max_tokens, "temperature": 0, "n": 1}}))
        tokens = []
        async with asyncio.timeout(90):
            while True:
                m = json.loads(await ws.recv())
                if m.get("type") == "token":
                    if not tokens and on_first_token:
                        on_first_token()
                    tokens.append(m["text"])
                elif m.get("type") in ("done", "error"):
                    return tokens, m


async def test_killed_model_instances_come_back_while_the_web_app_keeps_answering(started):
    var, web = started["var"], started["ports"]["--port"]
    ids = ["tiny-gpt2-1", "tiny-gpt2-2"]
    before = {i: supervised_pid(var, i) for i in ids}
    assert all(before.values()), before

    def crash_instances():
        # SIGSTOP first freezes the stream where it is, whichever instance serves it;
        # SIGKILL is then the crash (an OOM kill, a segfault) supervisord must see.
        for pid in before.values():
            os.kill(pid, signal.SIGSTOP)
        for pid in before.values():
            os.kill(pid, signal.SIGKILL)

    tokens, final = await stream(web, "crash", max_tokens=64, on_first_token=crash_instances)
    assert tokens and final["type"] == "error" and final["code"] == "model_unavailable", final
    # The rest of the stack did not notice: the web app answers while the models restart.
    assert httpx.get(f"http://127.0.0.1:{web}/api/health/", timeout=10).status_code == 200

    after = wait_for(lambda: (p := {i: supervised_pid(var, i) for i in ids}) and all(p.values()) and p,
                     120, "both instances restarted")
    assert all(after[i] != before[i] for i in ids)
    wait_for(lambda: all(haproxy_states(started).get(i) == "UP" for i in ids), 180, "HAProxy sees both instances UP")
    # Suggestions resume by themselves: as the editor does, retry while the
    # restarted instances warm up (on a loaded machine the first connection
    # can still miss the relay's connect timeout just after HAProxy's check).
    for attempt in range(10):
        tokens, final = await stream(web, f"after{attempt}")
        if final["type"] == "done" or final.get("code") != "model_unavailable":
            break
        await asyncio.sleep(3)
    assert final["type"] == "done" and tokens, final
    log = "".join(started["output"])
    assert "exited: tiny-gpt2-1 (terminated by SIGKILL; not expected)" in log


def test_a_killed_web_app_comes_back_with_drafts_intact(started):
    var, web = started["var"], started["ports"]["--port"]
    base = f"http://127.0.0.1:{web}"
    with httpx.Client(base_url=base, timeout=10) as client:
        csrf = client.get("/api/session/").json()["csrf"]
        r = client.post("/api/documents/", json={"title": "Kept", "body": "A draft that outlives its server."},
                        headers={"X-CSRFToken": csrf})
        assert r.status_code == 201, r.text
        doc = r.json()
        models_before = {i: supervised_pid(var, i) for i in ("tiny-gpt2-1", "tiny-gpt2-2", "redis", "haproxy")}
        web_pid = supervised_pid(var, "web")
        os.kill(web_pid, signal.SIGKILL)
        wait_for(lambda: supervised_pid(var, "web") not in (0, web_pid), 60, "web restarted")
        wait_for(lambda: client.get("/api/health/").status_code == 200, 120, "web answering again")
        again = client.get(f"/api/documents/{doc['id']}/")
        assert again.status_code == 200 and again.json()["body"] == "A draft that outlives its server."
    # Nothing else was restarted along with it.
    assert {i: supervised_pid(var, i) for i in models_before} == models_before


def test_a_killed_redis_comes_back(started):
    var = started["var"]
    pid = supervised_pid(var, "redis")
    os.kill(pid, signal.SIGKILL)
    port = int(started["ports"]["--redis-port"])

    def pong():
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")

    wait_for(pong, 60, "redis answering again")
    assert supervised_pid(var, "redis") not in (0, pid)
    web = started["ports"]["--port"]
    assert httpx.get(f"http://127.0.0.1:{web}/api/health/", timeout=10).status_code == 200


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
