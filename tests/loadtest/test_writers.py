"""Simulated writers against an in-process route socket that answers like a
microservice (tokens, `done`, prewarm `done`), so what they send and what
they record can be checked without a model."""
import json
from dataclasses import replace

from websockets.asyncio.server import serve

from loadtest.__main__ import stage
from loadtest.drafts import preset
from loadtest.writer import WINDOW_STEP, Behaviour, Target, prompt_window

FAST = Behaviour(max_tokens=2, n=2, words_per_minute=6000, debounce=0.02, read_time=(0.0, 0.02), open_pause=0.1,
                 type_over=0.0, draft_seconds=0, autosave_every=0)


class FakeRoute:
    """Answers generate with two tokens per alternative (or not at all, when
    `silent`), prewarm with `done`/prefilled, cancel with `done`/cancelled."""

    def __init__(self, silent=False):
        self.silent = silent
        self.received: list[list[dict]] = []  # per connection

    async def handler(self, ws):
        seen = []
        self.received.append(seen)
        async for raw in ws:
            m = json.loads(raw)
            seen.append(m)
            if m["type"] == "prewarm":
                if "id" in m:  # the backend answers nothing to the editor's id-less prewarm
                    await ws.send(json.dumps({"type": "done", "id": m["id"], "index": 0, "finish_reason": "prefilled"}))
            elif m["type"] == "generate" and not self.silent:
                for i in range(m["params"]["n"]):
                    for word in (" and", " then"):
                        await ws.send(json.dumps({"type": "token", "id": m["id"], "index": i, "text": word}))
                    await ws.send(json.dumps({"type": "done", "id": m["id"], "index": i, "finish_reason": "length"}))
            elif m["type"] == "cancel":
                for i in range(2):
                    await ws.send(json.dumps({"type": "done", "id": m["id"], "index": i, "finish_reason": "cancelled"}))


async def run(route: FakeRoute, behaviour: Behaviour, writers=2, duration=1.0, backend=False):
    async with serve(route.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        origin = f"http://127.0.0.1:{port}" if backend else None  # the backend's socket checks the Origin
        target = Target(f"ws://127.0.0.1:{port}/smollm2/ws", "smollm2", origin=origin)
        return await stage(target, behaviour, writers, warmup=0, duration=duration, seed=4, drafts=preset("long"))


async def test_writers_open_a_long_draft_prewarm_it_and_time_the_first_suggestion():
    route = FakeRoute()
    summary, rec = await run(route, FAST)
    assert summary["errors"] == 0 and summary["completed"] > 2, summary
    assert rec.opened == 2 and summary["first_ttft_samples"] == 2 and summary["ttft_samples"] > 2
    prompts = set()
    for messages in route.received:
        kinds = [m["type"] for m in messages]
        assert kinds[0] == "prewarm" and "generate" in kinds, kinds  # the draft is prewarmed on opening
        opened = messages[0]["prompt"]
        assert 1000 <= len(opened.split()) <= 3000
        first = next(m for m in messages if m["type"] == "generate")
        # The first pause comes right after opening: only a few typed words are new.
        assert first["prompt"].startswith(opened) and len(first["prompt"].split()) - len(opened.split()) <= 3
        prompts.add(opened)
    assert len(prompts) == 2  # each writer its own text
    assert rec.prewarms["sent"] == rec.prewarms["prefilled"] > 0


async def test_prewarm_sends_only_text_the_model_was_not_given():
    route = FakeRoute()
    await run(route, replace(FAST, prewarm_every=0.03), writers=1, duration=1.5)
    (messages,) = route.received
    sent = [m for m in messages if m["type"] in ("prewarm", "generate")]
    assert sum(m["type"] == "prewarm" for m in sent) > 1  # on opening, and on the ticks after typing
    for before, m in zip(sent, sent[1:]):
        if m["type"] == "prewarm":  # never the prompt the last prewarm or generate already carried
            assert m["prompt"] != before["prompt"]


def test_prompt_window_cuts_as_the_editor_does():
    # The cases of frontend/src/suggest/window.test.ts.
    assert prompt_window("abc", 200_000) == "abc" and prompt_window("abc", None) == "abc"
    assert len(prompt_window("x" * 200_000, 200_000)) == 200_000
    starts = {length - len(prompt_window("y" * length, 200_000)) for length in range(200_001, 250_001, 7_001)}
    assert starts == {WINDOW_STEP}  # the start stays put while the writer types
    assert 250_001 - len(prompt_window("y" * 250_001, 200_000)) == 2 * WINDOW_STEP
    assert len(prompt_window("z" * 4_001, 4_000)) == 3_001  # small limits step by a quarter
    assert len(prompt_window("z" * 4_999, 4_000)) == 3_999


async def test_through_the_backend_prewarm_is_sent_as_the_editor_sends_it():
    route = FakeRoute()
    summary, rec = await run(route, FAST, writers=1, backend=True)
    prewarms = [m for messages in route.received for m in messages if m["type"] == "prewarm"]
    assert prewarms and all(set(m) == {"type", "model", "prompt"} for m in prewarms)  # no id (no --documents here)
    assert summary["prewarms"] == {"sent": len(prewarms)} and summary["errors"] == 0


async def test_no_prewarm_sends_none():
    route = FakeRoute()
    summary, _ = await run(route, replace(FAST, prewarm=False), writers=1)
    assert summary["completed"] > 0
    assert not any(m["type"] == "prewarm" for messages in route.received for m in messages)
    assert summary["prewarms"] == {}


async def test_a_request_typed_over_before_its_first_token_counts_with_its_age():
    route = FakeRoute(silent=True)  # no suggestion ever streams: every one is typed over
    summary, rec = await run(route, replace(FAST, type_over=1.0, replace=0.0), writers=1)
    assert summary["errors"] == 0 and summary["completed"] == 0 and summary["cancelled"] > 0
    assert summary["ttft_samples"] == summary["typed_over_before_first_token"] == summary["cancelled"]
    assert summary["first_ttft_samples"] == 1  # the first suggestion too
    assert all(t > 0 for t in rec.ttft)
    assert summary["tokens"] == 0


async def test_the_prompt_is_cut_at_the_models_limit():
    route = FakeRoute()
    async with serve(route.handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        target = Target(f"ws://127.0.0.1:{port}/smollm2/ws", "smollm2", max_prompt_chars=500)
        await stage(target, FAST, 1, warmup=0, duration=0.5, seed=1, drafts=preset("long"))
    sent = [m for messages in route.received for m in messages if m["type"] in ("generate", "prewarm")]
    assert sent and all(len(m["prompt"]) <= 500 for m in sent)
