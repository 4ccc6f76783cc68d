"""The compose relay end to end: editor socket -> backend -> real microservice."""
import asyncio
import json
import logging

import pytest
import websockets

from backend.compose.upstream import document_key, upstream_urls
from backend.catalog.selectors import registry
from tests.backend.compose.conftest import metric, wait_for_metric
from tests.backend.conftest import assert_silent, collect, generate, open_socket, receive, registry_with_ports

pytestmark = pytest.mark.django_db(transaction=True)

LONG = {"max_tokens": 64, "temperature": 1.0}  # long enough to be cancelled mid-way


async def cancelled_count(service, route="tiny-gpt2") -> float:
    return await metric(service, "writeup_requests_total", route=route, outcome="cancelled")


async def first_token(comm, rid="a") -> dict:
    message = await receive(comm)
    assert message["type"] == "token" and message["id"] == rid, message
    return message


async def test_streams_tokens_end_to_end(direct):
    comm = await open_socket()
    await comm.send_json_to(generate("a", n=2, max_tokens=6, seed=7))
    texts, finals, seen = await collect(comm, {"a": 2})
    assert {m["id"] for m in seen} == {"a"}  # the relay's upstream ids never leak
    assert texts[("a", 0)] and texts[("a", 1)]
    assert sorted(m["index"] for m in finals["a"]) == [0, 1]
    for done in finals["a"]:
        assert done["type"] == "done" and done["finish_reason"] == "length"
        assert done["usage"]["completion_tokens"] == 6
    # The socket serves the next request just the same.
    await comm.send_json_to(generate("b", max_tokens=3))
    _, finals, _ = await collect(comm, {"b": 1})
    assert finals["b"][0]["finish_reason"] == "length"
    await comm.disconnect(timeout=5)


async def test_relay_passes_the_text_through_unchanged(direct):
    params = {"max_tokens": 12, "temperature": 0}
    comm = await open_socket()
    await comm.send_json_to(generate("g", prompt="The quick brown fox", **params))
    relayed, _, _ = await collect(comm, {"g": 1})
    await comm.disconnect(timeout=5)
    async with websockets.connect(direct.ws_url) as ws:
        await ws.send(json.dumps(generate("g", prompt="The quick brown fox", **params)))
        text = ""
        while True:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m["type"] == "token":
                text += m["text"]
            else:
                assert m["type"] == "done"
                break
    assert relayed[("g", 0)] == text


async def test_several_requests_share_one_socket(direct):
    comm = await open_socket()
    for rid in ("a", "b", "c"):
        await comm.send_json_to(generate(rid, max_tokens=5))
    texts, finals, _ = await collect(comm, {"a": 1, "b": 1, "c": 1})
    assert set(finals) == {"a", "b", "c"}
    assert all(f[0]["type"] == "done" for f in finals.values())
    await comm.disconnect(timeout=5)


async def test_cancel_stops_generation_upstream(direct):
    comm = await open_socket()
    before = await cancelled_count(direct)
    await comm.send_json_to(generate("a", n=2, **LONG))
    await first_token(comm)
    assert await metric(direct, "writeup_active_sequences", route="tiny-gpt2") >= 1
    await comm.send_json_to({"type": "cancel", "id": "a"})
    _, finals, _ = await collect(comm, {"a": 2})
    assert sorted((f["index"], f["finish_reason"]) for f in finals["a"]) == [(0, "cancelled"), (1, "cancelled")]
    await assert_silent(comm, 0.5)  # no token of "a" after its dones
    await wait_for_metric(direct, "writeup_requests_total", before + 2, route="tiny-gpt2", outcome="cancelled")
    await wait_for_metric(direct, "writeup_active_sequences", 0, route="tiny-gpt2")
    await comm.disconnect(timeout=5)


async def test_typing_again_replaces_the_request_under_the_same_id(direct):
    comm = await open_socket()
    before = await cancelled_count(direct)
    await comm.send_json_to(generate("ghost", prompt="It was a dark", **LONG))
    await first_token(comm, "ghost")
    await comm.send_json_to(generate("ghost", prompt="It was a dark and stormy", max_tokens=4))
    _, finals, _ = await collect(comm, {"ghost": 1})
    # Only the new request ends, and it ran to its own length; the old one
    # was cancelled upstream without a `done` of its own.
    assert [(f["type"], f.get("finish_reason")) for f in finals["ghost"]] == [("done", "length")]
    assert finals["ghost"][0]["usage"]["completion_tokens"] == 4
    await assert_silent(comm, 0.5)
    await wait_for_metric(direct, "writeup_requests_total", before + 1, route="tiny-gpt2", outcome="cancelled")
    await wait_for_metric(direct, "writeup_active_sequences", 0, route="tiny-gpt2")
    await comm.disconnect(timeout=5)


async def test_changing_model_cancels_the_old_one(settings, tmp_path, tiny_registry, microservice, llama_service):
    settings.WRITEUP_REGISTRY = registry_with_ports(
        tiny_registry, tmp_path, {"tiny-gpt2-1": microservice.port, "tiny-llama-1": llama_service.port}
    )
    comm = await open_socket()
    before = await cancelled_count(microservice)
    await comm.send_json_to(generate("ghost", **LONG))
    await first_token(comm, "ghost")
    await comm.send_json_to(generate("ghost", model="tiny-llama", max_tokens=5))
    texts, finals, _ = await collect(comm, {"ghost": 1})
    assert finals["ghost"][0]["type"] == "done" and finals["ghost"][0]["usage"]["completion_tokens"] == 5
    await wait_for_metric(microservice, "writeup_requests_total", before + 1, route="tiny-gpt2", outcome="cancelled")
    await wait_for_metric(microservice, "writeup_active_sequences", 0, route="tiny-gpt2")
    assert await metric(llama_service, "writeup_requests_total", route="tiny-llama", outcome="length") >= 1
    await comm.disconnect(timeout=5)


async def test_disconnect_cancels_upstream_work(direct):
    comm = await open_socket()
    before = await cancelled_count(direct)
    await comm.send_json_to(generate("a", n=2, **LONG))
    await comm.send_json_to(generate("b", **LONG))
    await first_token(comm)
    await comm.disconnect(timeout=5)
    await wait_for_metric(direct, "writeup_requests_total", before + 3, route="tiny-gpt2", outcome="cancelled")
    await wait_for_metric(direct, "writeup_active_sequences", 0, route="tiny-gpt2")


async def test_requests_for_a_document_work_and_are_pinned(direct, settings, tmp_path, tiny_registry):
    comm = await open_socket()
    doc = "4f1c9a52-8b1e-4c1a-9a53-0c6a1f9d2e10"
    await comm.send_json_to({**generate("a", max_tokens=3), "document": doc})
    _, finals, _ = await collect(comm, {"a": 1})
    assert finals["a"][0]["type"] == "done"
    await comm.disconnect(timeout=5)

    # Without a load balancer the backend ranks a route's instances per
    # document (rendezvous hashing): stable for a document, spread over many.
    reg = registry()
    firsts = set()
    for n in range(40):
        key = document_key(f"doc-{n}")
        urls = upstream_urls(reg, "tiny-gpt2", key)
        assert urls == upstream_urls(reg, "tiny-gpt2", key)
        assert len(urls) == 2 and all(u.endswith(f"/tiny-gpt2/ws?doc={key}") for u in urls)
        firsts.add(urls[0].split("?")[0])
    assert len(firsts) == 2
    # Through a load balancer, the document digest rides in the query string for HAProxy to hash.
    url = upstream_urls(reg, "tiny-gpt2", document_key(doc), "http://lb:8080")
    assert url == [f"ws://lb:8080/tiny-gpt2/ws?doc={document_key(doc)}"]
    assert doc not in url[0]


async def test_one_request_is_followed_from_the_relay_into_the_microservice_log(direct, caplog):
    """The relay logs the editor's id with the upstream id it chose; the
    microservice logs the request under that upstream id when it ends."""
    from tests.microservices.test_server import logged_lines

    caplog.set_level(logging.INFO, logger="backend.compose.relay")
    comm = await open_socket()
    doc = "7d0e6a4c-2b7f-4f7e-9d1a-3c5b8e2f1a90"
    await comm.send_json_to({**generate("trace-me", max_tokens=3), "document": doc})
    _, finals, _ = await collect(comm, {"trace-me": 1})
    assert finals["trace-me"][0]["type"] == "done"
    await comm.disconnect(timeout=5)
    [sent] = [r for r in caplog.records if getattr(r, "client_id", None) == "trace-me"]
    assert sent.writer_class == "anon" and sent.model == "tiny-gpt2" and sent.document == document_key(doc)
    assert sent.upstream_id.startswith("u") and sent.upstream_id != "u1"  # unique beyond this socket
    async with asyncio.timeout(10):
        while not logged_lines(direct, request_id=sent.upstream_id):
            await asyncio.sleep(0.05)
    [ended] = logged_lines(direct, request_id=sent.upstream_id)
    assert ended["route"] == "tiny-gpt2" and ended["outcome"] == "length" and ended["completion_tokens"] == 3
