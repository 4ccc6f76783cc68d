"""The microservice over real sockets: protocol, every error code, health, metrics."""
import asyncio
import json
import os

import httpx
import pytest
import websockets

from contract import protocol
from tests.support.services import start_microservice


async def recv_until_done(ws, ids, timeout=60):
    """Collect messages until every id has its done(s) or error."""
    texts, finals = {}, {}
    want = dict(ids)  # id -> n
    async with asyncio.timeout(timeout):
        while want:
            m = json.loads(await ws.recv())
            rid = m.get("id")
            if m["type"] == "token":
                texts[(rid, m["index"])] = texts.get((rid, m["index"]), "") + m["text"]
            else:
                finals.setdefault(rid, []).append(m)
                if m["type"] == "error" or len(finals[rid]) == want.get(rid, 0):
                    want.pop(rid, None)
    return texts, finals


def gen(rid, prompt="Once upon a time", **params):
    return json.dumps({"type": "generate", "id": rid, "model": "tiny-gpt2", "prompt": prompt,
                       "params": {"max_tokens": 8, **params}})


async def test_stream_several_requests_on_one_socket(microservice):
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(gen("a", temperature=0))
        await ws.send(gen("b", "Hello", n=2, max_tokens=5))
        texts, finals = await recv_until_done(ws, {"a": 1, "b": 2})
        assert [f["finish_reason"] for f in finals["a"]] == ["length"]
        assert sorted(f["index"] for f in finals["b"]) == [0, 1]
        assert texts[("a", 0)] and texts[("b", 1)]


ERROR_CASES = [
    ("not json", "invalid_json", None),
    ("[1, 2]", "invalid_json", None),
    (json.dumps({"type": "dance", "id": "x"}), "unknown_type", "x"),
    (json.dumps({"id": "x"}), "unknown_type", "x"),
    (json.dumps({"type": "generate", "model": "tiny-gpt2", "prompt": "hi"}), "invalid_request", None),
    (json.dumps({"type": "generate", "id": "x" * 65, "model": "tiny-gpt2", "prompt": "hi"}), "invalid_request", None),
    (json.dumps({"type": "generate", "id": "x", "model": "nope", "prompt": "hi"}), "unknown_model", "x"),
    (json.dumps({"type": "generate", "id": "x", "model": "tiny-gpt2", "prompt": 5}), "invalid_request", "x"),
    (json.dumps({"type": "generate", "id": "x", "model": "tiny-gpt2", "prompt": "a" * 4001}), "prompt_too_long", "x"),
    (gen("x", max_tokens=0), "invalid_request", "x"),
    (gen("x", max_tokens=65), "invalid_request", "x"),
    (gen("x", max_tokens="5"), "invalid_request", "x"),
    (gen("x", temperature=2.5), "invalid_request", "x"),
    (gen("x", temperature=True), "invalid_request", "x"),
    (gen("x", top_p=0), "invalid_request", "x"),
    (gen("x", top_k=-1), "invalid_request", "x"),
    (gen("x", n=5), "invalid_request", "x"),
    (gen("x", stop=["a"] * 5), "invalid_request", "x"),
    (gen("x", stop=[""]), "invalid_request", "x"),
    (gen("x", seed=-1), "invalid_request", "x"),
    (gen("x", frobnicate=1), "invalid_request", "x"),
    (json.dumps({"type": "generate", "id": "x", "model": "tiny-gpt2", "prompt": "hi", "params": []}), "invalid_request", "x"),
    (json.dumps({"type": "cancel", "id": "ghost"}), "unknown_request", "ghost"),
    ("x" * (protocol.MAX_MESSAGE_BYTES + 1), "message_too_large", None),
]


async def test_every_bad_message_gets_its_error_and_the_socket_stays_usable(microservice):
    async with websockets.connect(microservice.ws_url, max_size=None) as ws:
        for raw, code, rid in ERROR_CASES:
            await ws.send(raw)
            m = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert (m["type"], m["code"], m["id"]) == ("error", code, rid), raw[:80]
            assert len(m["message"]) > 10 and m["message"].endswith(".")
        await ws.send(b"\xff\xfe binary")
        assert json.loads(await ws.recv())["code"] == "invalid_json"
        await ws.send(gen("ok", max_tokens=3))
        _, finals = await recv_until_done(ws, {"ok": 1})
        assert finals["ok"][0]["type"] == "done"


async def test_duplicate_id_and_cancel(microservice):
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(gen("d", max_tokens=60))
        await ws.send(gen("d", max_tokens=60))
        await ws.send(json.dumps({"type": "cancel", "id": "d"}))
        kinds = []
        async with asyncio.timeout(30):
            while ("done", "cancelled") not in kinds:  # the original is still tracked and cancellable
                m = json.loads(await ws.recv())
                if m["type"] != "token":
                    kinds.append((m["type"], m.get("code") or m.get("finish_reason")))
        assert kinds == [("error", "duplicate_id"), ("done", "cancelled")]


async def test_cancel_ends_with_cancelled(microservice):
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(gen("c", max_tokens=64))
        first = json.loads(await ws.recv())
        assert first["type"] == "token"
        await ws.send(json.dumps({"type": "cancel", "id": "c"}))
        _, finals = await recv_until_done(ws, {"c": 1})
        assert finals["c"][0]["finish_reason"] == "cancelled"


def gen_as(writer, rid, **params):
    return json.dumps({**json.loads(gen(rid, **params)), "writer": writer})


async def test_a_flooding_writer_gets_over_quota_and_another_still_streams(microservice):
    async with websockets.connect(microservice.ws_url) as a, websockets.connect(microservice.ws_url) as b:
        for i in range(12):  # n=4: two run (8 sequences), eight wait, the rest are over this writer's quota
            await a.send(gen_as("flood", f"a{i}", max_tokens=64, n=4))
        await b.send(gen_as("calm", "b", max_tokens=4))
        _, finals_b = await recv_until_done(b, {"b": 1}, timeout=120)
        assert finals_b["b"][0]["type"] == "done"  # served ahead of the flooder's backlog
        texts_a, finals_a = await recv_until_done(a, {f"a{i}": 4 for i in range(12)}, timeout=240)
        codes = [f.get("code") for fs in finals_a.values() for f in fs if f["type"] == "error"]
        assert codes and set(codes) == {"over_quota"}
        assert sum(1 for fs in finals_a.values() if fs[0]["type"] == "done") >= 8


async def test_too_many_requests_per_socket_and_busy(microservice):
    async with websockets.connect(microservice.ws_url) as a, websockets.connect(microservice.ws_url) as b:
        # Every request names its own writer, so only the socket's and the engine's caps apply.
        for i in range(17):
            await a.send(gen_as(f"w{i}", f"a{i}", max_tokens=64, n=4))
        texts_a, finals_a = await recv_until_done(a, {"a16": 1})
        assert finals_a["a16"][0]["code"] == "too_many_requests"
        for i in range(16):  # 14 of a's wait in the 16-deep queue: most of these can't
            await b.send(gen_as(f"v{i}", f"b{i}", max_tokens=64))
        _, finals_b = await recv_until_done(b, {f"b{i}": 1 for i in range(16)}, timeout=120)
        codes = [f.get("code") for fs in finals_b.values() for f in fs if f["type"] == "error"]
        assert codes.count("busy") >= 8
        seen = {f"a{i}": len(finals_a.get(f"a{i}", [])) for i in range(16)}
        _, rest = await recv_until_done(a, {k: 4 - v for k, v in seen.items() if v < 4}, timeout=240)
        assert all(f["type"] == "done" for fs in [*rest.values(), *finals_a.values()] for f in fs if f["id"] != "a16")


async def test_prewarm_fills_the_writers_cache_only(microservice):
    doc = "The harbour town woke slowly while the fishermen mended their nets along the quay. " * 6
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(json.dumps({"type": "prewarm", "id": "p", "model": "tiny-gpt2", "prompt": doc, "writer": "ada"}))
        _, finals = await recv_until_done(ws, {"p": 1})
        assert finals["p"][0]["finish_reason"] == "prefilled"
        for rid, writer in (("bob", "bob"), ("ada", "ada")):
            await ws.send(json.dumps({**json.loads(gen(rid, doc + " Then")), "writer": writer}))
            _, f = await recv_until_done(ws, {rid: 1})
            cached = f[rid][0]["usage"]["cached_tokens"]
            assert (cached > 50) if writer == "ada" else cached == 0
        await ws.send(json.dumps({"type": "prewarm", "id": "q", "model": "tiny-gpt2", "prompt": doc,
                                  "params": {"n": 2}}))
        _, f = await recv_until_done(ws, {"q": 1})
        assert f["q"][0]["code"] == "invalid_request"


async def test_disconnect_cancels_everything(microservice):
    before = microservice.metric("writeup_requests_total", route="tiny-gpt2", outcome="cancelled")
    async with websockets.connect(microservice.ws_url) as ws:
        for i in range(3):
            await ws.send(gen(f"g{i}", max_tokens=64))
        await ws.recv()
    for _ in range(100):
        if microservice.metric("writeup_active_sequences", route="tiny-gpt2") == 0:
            break
        await asyncio.sleep(0.05)
    assert microservice.metric("writeup_active_sequences", route="tiny-gpt2") == 0
    assert microservice.metric("writeup_requests_total", route="tiny-gpt2", outcome="cancelled") == before + 3


def test_health_info_metrics(microservice):
    h = httpx.get(f"{microservice.url}/tiny-gpt2/health")
    assert h.status_code == 200 and h.json()["status"] == "ok"
    assert httpx.get(f"{microservice.url}/nope/health").status_code == 404
    info = httpx.get(f"{microservice.url}/tiny-gpt2/info").json()
    assert info["limits"]["max_new_tokens"] == 64
    text = httpx.get(f"{microservice.url}/metrics").text
    for name in ("writeup_queue_depth", "writeup_active_sequences", "writeup_generated_tokens_total",
                 "writeup_time_to_first_token_seconds_bucket", "writeup_inter_token_latency_seconds_bucket"):
        assert name in text


async def test_unknown_route_socket(microservice):
    async with websockets.connect(microservice.ws_url.replace("tiny-gpt2", "nope")) as ws:
        m = json.loads(await ws.recv())
        assert m["code"] == "unknown_model"


def test_failing_health_check_answers_503(tiny_registry, tmp_path):
    fault = tmp_path / "fault"
    ms = start_microservice(tiny_registry, "tiny-gpt2-2", env={"WRITEUP_FAULT_FILE": str(fault)})
    try:
        fault.touch()
        assert httpx.get(f"{ms.url}/tiny-gpt2/health").status_code == 503
        os.remove(fault)
        assert httpx.get(f"{ms.url}/tiny-gpt2/health").status_code == 200
    finally:
        ms.stop()


def test_device_error_answers_503_then_exits_for_the_supervisor(tiny_registry, tmp_path):
    fault = tmp_path / "fault"
    ms = start_microservice(tiny_registry, "tiny-gpt2-2", env={"WRITEUP_FAULT_FILE": str(fault)})
    try:
        fault.write_text("fatal")
        r = httpx.get(f"{ms.url}/tiny-gpt2/health")
        assert r.status_code == 503 and "device error" in r.json()["message"]
        assert ms.proc.wait(timeout=10) == 3  # non-zero: systemd / honcho see a failure
    finally:
        ms.stop()


def test_missing_weights_exit_with_a_clear_message(tiny_registry):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "microservices.server", "--instance", "missing-1", "--registry",
                        str(tiny_registry)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "no model files" in r.stderr and "Traceback" not in r.stderr


def logged_lines(service, **match) -> list[dict]:
    """The service's JSON log lines whose fields include `match`."""
    lines = []
    for line in service.log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and match.items() <= entry.items():
            lines.append(entry)
    return lines


async def test_each_request_is_logged_once_as_a_json_line_when_it_ends(microservice):
    """Followed across tiers: the id the relay sends is the one an operator greps for."""
    async with websockets.connect(microservice.ws_url) as ws:
        await ws.send(gen("u-trace-1", "Once upon a time", n=2, max_tokens=4))
        await ws.send(gen("u-trace-2", "x" * 10, top_k=-1))  # refused before the engine: no request line
        await recv_until_done(ws, {"u-trace-1": 2, "u-trace-2": 1})
    async with asyncio.timeout(10):
        while not logged_lines(microservice, request_id="u-trace-1"):
            await asyncio.sleep(0.05)
    [line] = logged_lines(microservice, request_id="u-trace-1")
    assert line["route"] == "tiny-gpt2" and line["outcome"] == "length" and line["level"] == "INFO"
    assert line["prompt_tokens"] > 0 and line["completion_tokens"] == 4 and line["cached_tokens"] >= 0
    assert line["ttft_s"] > 0
    assert logged_lines(microservice, request_id="u-trace-2") == []
