"""Prewarm: the editor asks the document's instance to prefill the draft into
the writer's cache. It goes upstream on the document's socket with the writer
key, one at a time per document (a newer one cancels the older), is never
answered to the editor, and costs nothing from the writer's budget."""
import json
import uuid

import pytest

from tests.backend.compose.test_budget import anonymous_session
from tests.backend.conftest import assert_silent, generate, open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)

DOC = str(uuid.uuid4())


def prewarm(prompt: str = "Once upon a time", document: str | None = DOC, **extra) -> dict:
    message = {"type": "prewarm", "model": "tiny-gpt2", "prompt": prompt, **extra}
    if document:
        message["document"] = document
    return message


async def test_prewarm_goes_upstream_with_the_writer_and_is_never_answered(recorder):
    tab = await open_socket(await anonymous_session())
    await tab.send_json_to(prewarm("It was a dark"))
    ws, first = await recorder.next()
    assert first["type"] == "prewarm" and first["prompt"] == "It was a dark" and first["model"] == "tiny-gpt2"
    assert len(first["writer"]) == 32 and "params" not in first
    assert first["document"] != DOC and len(first["document"]) == 40  # the digest HAProxy hashes, not the id
    # A generate for the same document shares the socket and the writer.
    await tab.send_json_to({**generate("g"), "document": DOC})
    ws_g, gen = await recorder.next()
    assert ws_g is ws and gen["writer"] == first["writer"]

    # A newer prewarm of the same document cancels the older first.
    await tab.send_json_to(prewarm("It was a dark and stormy", id="mine"))
    _, cancel = await recorder.next()
    assert cancel == {"type": "cancel", "id": first["id"]}
    _, second = await recorder.next()
    assert second["type"] == "prewarm" and second["id"] not in ("mine", first["id"])
    # Whatever the model answers about prewarms stays in the backend.
    for reply in ({"type": "done", "id": first["id"], "index": 0, "finish_reason": "cancelled"},
                  {"type": "done", "id": second["id"], "index": 0, "finish_reason": "prefilled",
                   "usage": {"prompt_tokens": 6, "completion_tokens": 0, "cached_tokens": 4}},
                  {"type": "error", "id": second["id"], "code": "busy", "message": "Full."}):
        await ws.send(json.dumps(reply))
    await assert_silent(tab)
    # Once it ended, the next prewarm has nothing to cancel.
    await tab.send_json_to(prewarm("It was a dark and stormy night"))
    _, third = await recorder.next()
    assert third["type"] == "prewarm"
    await tab.disconnect(timeout=5)


async def test_prewarms_of_other_documents_are_bounded_per_socket(recorder):
    tab = await open_socket()
    docs = [str(uuid.uuid4()) for _ in range(3)]
    sent = []
    for doc in docs[:2]:
        await tab.send_json_to(prewarm(document=doc))
        sent.append((await recorder.next())[1])
    # A third document in flight retires the oldest prewarm.
    await tab.send_json_to(prewarm(document=docs[2]))
    frames = [(await recorder.next())[1] for _ in range(2)]
    assert {"type": "cancel", "id": sent[0]["id"]} in frames
    assert any(f["type"] == "prewarm" for f in frames)
    await assert_silent(tab)
    await tab.disconnect(timeout=5)


async def test_prewarm_is_outside_the_budget(recorder, settings):
    settings.COMPOSE_BUDGET_ANON_SEQUENCES = 1
    tab = await open_socket(await anonymous_session())
    await tab.send_json_to(generate("g", max_tokens=10))
    await recorder.next()
    await tab.send_json_to(prewarm())
    assert (await recorder.next())[1]["type"] == "prewarm"
    await tab.send_json_to(generate("h", max_tokens=10))
    assert (await receive(tab))["code"] == "over_quota"
    await tab.disconnect(timeout=5)


@pytest.mark.parametrize(
    "message, code, rid",
    [
        (prewarm(params={"max_tokens": 5}), "invalid_request", None),
        (prewarm(id="p1", params={}), "invalid_request", "p1"),
        (prewarm(model="nope"), "unknown_model", None),
        ({"type": "prewarm", "prompt": "x"}, "invalid_request", None),
        (prewarm(prompt=7, id="p2"), "invalid_request", "p2"),
        (prewarm(prompt="x" * 4001), "prompt_too_long", None),
        (prewarm(writer="someone-else"), "invalid_request", None),
        (prewarm(id=""), "invalid_request", ""),
    ],
)
async def test_a_bad_prewarm_gets_the_usual_error(recorder, message, code, rid):
    tab = await open_socket()
    await tab.send_json_to(message)
    error = await receive(tab)
    assert (error["type"], error["code"], error["id"]) == ("error", code, rid), error
    await recorder.nothing()
    await tab.disconnect(timeout=5)


async def test_prewarm_through_the_real_model_warms_only_that_writers_cache(direct):
    """End to end on a real microservice: the prefill lands in the writer's own
    cache (their next request reuses it), and another writer gets nothing of it."""
    from tests.backend.compose.conftest import metric, wait_for_metric

    text = "The old lighthouse keeper climbed the stairs every night, counting the steps. " * 6
    doc = str(uuid.uuid4())
    session = await anonymous_session()
    writer_tab = await open_socket(session)
    before = await metric(direct, "writeup_prewarms_total", outcome="prefilled")
    await writer_tab.send_json_to({"type": "prewarm", "model": "tiny-gpt2", "prompt": text, "document": doc})
    await wait_for_metric(direct, "writeup_prewarms_total", before + 1, outcome="prefilled")
    await assert_silent(writer_tab)

    async def cached(tab, rid) -> int:
        await tab.send_json_to({**generate(rid, prompt=text + "And", max_tokens=2, temperature=0), "document": doc})
        while (m := await receive(tab))["type"] == "token":
            pass
        assert m["type"] == "done", m
        return m["usage"]["cached_tokens"]

    stranger_tab = await open_socket(await anonymous_session())
    assert await cached(stranger_tab, "s") == 0
    # The writer's other tab (another upstream socket) finds it: the key is the writer's, not the socket's.
    other_tab = await open_socket(session)
    assert await cached(other_tab, "w") > 0
    for tab in (writer_tab, stranger_tab, other_tab):
        await tab.disconnect(timeout=5)
