"""Real HAProxy in front of real microservices (two instances of one route, one
of another): path routing, WebSocket streams, health-checked failover and
rejoin, and document affinity with fallback."""
import asyncio
import json

import httpx
import pytest
import websockets

from tests.stack.haproxy import HAProxy
from tests.support.services import Microservice, free_port

ROUTE = "tiny-gpt2"
POOL = f"route_{ROUTE}"


@pytest.fixture(scope="module")
def stack(tiny_registry, tmp_path_factory):
    """tiny-gpt2 x2 and tiny-llama x1 behind one HAProxy."""
    services = {iid: Microservice(tiny_registry, iid, free_port()) for iid in ("tiny-gpt2-1", "tiny-gpt2-2", "tiny-llama-1")}
    lb = None
    try:
        for ms in services.values():
            ms.start()
        instances = [{"id": iid, "host": "127.0.0.1", "port": ms.port, "routes": [ms.route]} for iid, ms in services.items()]
        lb = HAProxy(tiny_registry, instances, tmp_path_factory.mktemp("haproxy")).start(timeout=20)
        for iid, ms in services.items():
            lb.wait_status(f"route_{ms.route}", iid, "UP")
        yield lb, services
    finally:
        if lb:
            lb.stop()
        for ms in services.values():
            ms.stop()


def served_by(lb, path="/tiny-gpt2/info", doc=None, param=None) -> str:
    headers = {"X-Writeup-Document": doc} if doc else {}
    r = httpx.get(lb.url + path, params={"doc": param} if param else None, headers=headers, timeout=15)
    assert r.status_code == 200, r.text
    # The instance says who it is; HAProxy names the server it chose. They must agree.
    assert r.headers["x-writeup-instance"] == r.json()["instance"]
    return r.json()["instance"]


async def stream(url: str, prompt: str = "Once upon a time", max_tokens: int = 6) -> tuple[str, dict]:
    async with websockets.connect(url, open_timeout=15) as ws:
        await ws.send(json.dumps({"type": "generate", "id": "r1", "model": ROUTE, "prompt": prompt,
                                  "params": {"max_tokens": max_tokens, "temperature": 0}}))
        text = ""
        async with asyncio.timeout(60):
            while True:
                m = json.loads(await ws.recv())
                if m["type"] == "token":
                    text += m["text"]
                else:
                    return text, m


def test_routes_by_path(stack):
    lb, _ = stack
    assert served_by(lb, "/tiny-llama/info") == "tiny-llama-1"
    assert {served_by(lb) for _ in range(8)} == {"tiny-gpt2-1", "tiny-gpt2-2"}
    assert httpx.get(f"{lb.url}/{ROUTE}/health", timeout=15).status_code == 200


def test_unknown_paths_and_unserved_routes_get_json_errors(stack):
    lb, _ = stack
    r = httpx.get(lb.url + "/nope/ws", timeout=5)
    assert r.status_code == 404 and r.json()["code"] == "unknown_model"
    # `missing` is a registry route with no instance running: its pool is empty
    r = httpx.get(lb.url + "/missing/health", timeout=5)
    assert r.status_code == 503 and r.json()["code"] == "model_unavailable"
    models = httpx.get(lb.url + "/v1/models", timeout=5).json()
    assert sorted(m["id"] for m in models["data"]) == ["tiny-gpt2", "tiny-llama"]


async def test_websocket_stream_through_haproxy(stack):
    lb, _ = stack
    text, done = await stream(lb.url.replace("http", "ws") + f"/{ROUTE}/ws")
    assert done["type"] == "done" and done["finish_reason"] in ("length", "stop")
    assert text


def test_document_affinity_by_header_and_query_parameter(stack):
    lb, _ = stack
    docs = [f"doc-{n}" for n in range(12)]
    first = {d: served_by(lb, doc=d) for d in docs}
    for d in docs:
        assert {served_by(lb, doc=d) for _ in range(3)} == {first[d]}
        assert served_by(lb, param=d) == first[d]  # ?doc= is the same key as the header
    assert set(first.values()) == {"tiny-gpt2-1", "tiny-gpt2-2"}, "documents should spread over both instances"


async def test_killed_instance_leaves_rotation_and_rejoins(stack):
    lb, services = stack
    docs = [f"doc-{n}" for n in range(12)]
    home = {d: served_by(lb, doc=d) for d in docs}
    victim = "tiny-gpt2-1"
    pinned = [d for d in docs if home[d] == victim]
    other = [d for d in docs if home[d] != victim]
    assert pinned and other

    services[victim].kill()
    # Before the health checks notice, a refused connection is redispatched: no request fails.
    for d in pinned[:2]:
        assert served_by(lb, doc=d) == "tiny-gpt2-2"
    lb.wait_status(POOL, victim, "DOWN", timeout=15)
    # Every document, pinned or not, is served by the survivor; the others did not move.
    assert {served_by(lb, doc=d) for d in pinned} == {"tiny-gpt2-2"}
    assert all(served_by(lb, doc=d) == home[d] for d in other)
    assert {served_by(lb) for _ in range(6)} == {"tiny-gpt2-2"}
    text, done = await stream(lb.url.replace("http", "ws") + f"/{ROUTE}/ws?doc={pinned[0]}")
    assert done["type"] == "done" and text

    services[victim].start()
    lb.wait_status(POOL, victim, "UP", timeout=30)
    # Consistent hashing: the pinned documents come home, so their cached prefixes are used again.
    assert all(served_by(lb, doc=d) == home[d] for d in docs)


def test_openai_requests_route_by_body_model_and_by_path(stack):
    lb, _ = stack
    body = {"prompt": "Once upon a time", "max_tokens": 3, "temperature": 0}
    r = httpx.post(lb.url + "/v1/completions", json={**body, "model": "tiny-llama"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["x-writeup-instance"] == "tiny-llama-1"
    assert r.json()["choices"][0]["text"]
    r = httpx.post(lb.url + "/tiny-gpt2/v1/completions", json={**body, "model": "tiny-gpt2"}, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["x-writeup-instance"] in {"tiny-gpt2-1", "tiny-gpt2-2"}
    r = httpx.post(lb.url + "/v1/completions", json={**body, "model": "nope"}, timeout=10)
    assert r.status_code == 404 and r.json()["code"] == "unknown_model"


def test_openai_stream_passes_through_unbuffered(stack):
    lb, _ = stack
    events = []
    with httpx.stream("POST", lb.url + "/v1/completions", timeout=60,
                      json={"model": "tiny-gpt2", "prompt": "Hello", "max_tokens": 4, "stream": True}) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                events.append(line[6:])
    assert events[-1] == "[DONE]"
    assert len(events) >= 2
