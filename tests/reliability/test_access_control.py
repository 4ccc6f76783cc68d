"""Access control and abuse limits on the real processes, where
tests/backend and tests/microservices (in-process) do not already cover them:
CSRF on every write the API schema lists, the socket origin check at the real
server, and the per-server cap (`busy`) reaching a writer through the backend
and HAProxy."""
import asyncio
import re

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from tests.reliability.conftest import POOL, compose, finals, generate
from tests.support.backend import cookie_header

UNSAFE = ("post", "put", "patch", "delete")


def writes_in_schema(backend) -> list[tuple[str, str]]:
    schema = httpx.get(f"{backend.url}/api/schema/", params={"format": "json"}, timeout=30).json()
    return [(method.upper(), path) for path, ops in schema["paths"].items() for method in ops if method in UNSAFE]


def test_every_write_in_the_api_needs_the_csrf_token_and_our_origin(healthy):
    backend = healthy.backend
    http = backend.client()
    doc = http.post("/api/documents/", json={"title": "mine", "body": "private"}).json()
    share = http.post(f"/api/documents/{doc['id']}/publish/").json()["share_id"]
    ids = {"document_id": doc["id"], "share_id": share, "id": doc["id"]}
    writes = writes_in_schema(backend)
    assert ("PATCH", "/api/documents/{document_id}/") in writes

    cookies = cookie_header(http)
    for method, template in writes:
        path = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), "x"), template)
        # A foreign page can make the browser send the cookie, never the token.
        r = httpx.request(method, backend.url + path, headers=cookies, json={}, timeout=30)
        assert r.status_code == 403 and r.json()["code"] == "csrf_failed", (method, path, r.status_code, r.text[:200])
        # The token leaked to another site is still refused from its origin.
        r = httpx.request(method, backend.url + path, json={}, timeout=30,
                          headers={**cookies, "X-CSRFToken": http.headers["X-CSRFToken"], "Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json()["code"] == "csrf_failed", (method, path, r.status_code, r.text[:200])
    # None of that touched the draft.
    after = http.get(f"/api/documents/{doc['id']}/").json()
    assert (after["body"], after["version"], after["share_id"]) == ("private", doc["version"], share)


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1.evil.example", "null", None])
async def test_the_real_server_refuses_sockets_from_other_origins(healthy, origin):
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(healthy.backend.ws_url, origin=origin, open_timeout=15, proxy=None):
            pass
    assert refused.value.response.status_code == 403


async def test_a_full_server_answers_busy_and_the_writer_carries_on(healthy):
    """One instance (the other's health check is failed on purpose): 8 batch
    slots and a 16-deep queue. Four tabs with 8 long requests each are more
    than it holds; the rest are told `busy` by name."""
    stack = healthy
    stack.faults["tiny-gpt2-2"].touch()
    await asyncio.to_thread(stack.lb.wait_status, POOL, "tiny-gpt2-2", "DOWN")
    long = {"max_tokens": 64, "n": 4, "temperature": 1.0}
    tabs = [await compose(stack) for _ in range(4)]
    try:
        for t, tab in enumerate(tabs):
            for i in range(8):
                await tab.send(generate(f"t{t}-{i}", **long))
        outcomes = await asyncio.gather(*(finals(tab, {f"t{t}-{i}": 4 for i in range(8)}, timeout=240)
                                          for t, tab in enumerate(tabs)))
        errors = [m for ends in outcomes for ms in ends.values() for m in ms if m["type"] == "error"]
        busy = [m for m in errors if m["code"] == "busy"]
        assert busy, "32 long requests should overflow one tiny instance"
        assert all("retry" in m["message"] for m in busy)
        # With this stack's short idle timeout a request can also wait in the
        # queue longer than the backend allows silence: that is a clear error too.
        assert {m["code"] for m in errors} <= {"busy", "timeout"}, errors
        done = [m for ends in outcomes for ms in ends.values() for m in ms if m["type"] == "done"]
        assert done, "what fitted was served"
        # Capacity frees as streams end: the same tab gets its next request through.
        await tabs[0].send(generate("again", max_tokens=3))
        (again,) = (await finals(tabs[0], {"again": 1}))["again"]
        assert again["type"] == "done", again
    finally:
        for tab in tabs:
            await tab.close()


async def test_a_socket_cannot_hold_more_than_its_share_through_the_real_server(healthy):
    """The per-connection cap (WRITEUP_WS_MAX_CONCURRENT, 8) on the real
    backend: the ninth concurrent request is refused by name; the others run."""
    async with compose(healthy) as ws:
        # Eight single sequences fit the instance's batch at once: none waits
        # in its queue long enough to meet this stack's short idle timeout.
        for i in range(9):
            await ws.send(generate(f"r{i}", max_tokens=32, temperature=1.0))
        ends = await finals(ws, {f"r{i}": 1 for i in range(9)}, timeout=240)
    refused = [m for ms in ends.values() for m in ms if m["type"] == "error"]
    assert [(m["id"], m["code"]) for m in refused] == [("r8", "too_many_requests")], refused
    assert all([m["type"] for m in ends[f"r{i}"]] == ["done"] for i in range(8)), ends
