"""Continuous batching on real (tiny) models: order, invariance, cancel, n, stop, seeds."""
import threading
import time

import pytest
import torch
from transformers import AutoModelForCausalLM

from microservices.engine.engine import Busy
from tests.microservices.conftest import Collector, make_engine

PROMPTS = ["The history of the old town begins", "She opened the letter and read", "In the beginning",
           "Rain fell on the quiet harbour while", "A recipe for bread:"]


def hf_greedy(folder, prompt, n_new):
    from microservices.engine.loader import load_tokenizer

    tok = load_tokenizer(folder)
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    out = hf.generate(ids, max_new_tokens=n_new, min_new_tokens=n_new, do_sample=False, pad_token_id=tok.eos_token_id)
    return tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True, clean_up_tokenization_spaces=False)


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_greedy_stream_equals_transformers_generate(request, tiny_dir, arch):
    engine = request.getfixturevalue(f"{arch}_engine")
    c = Collector(engine)
    r = c.run("a", PROMPTS[0], max_tokens=24, temperature=0)
    assert r["finish"] == ["length"] and r["usage"][0]["completion_tokens"] == 24
    # the streamed pieces, in order, are exactly what HF's generate produces
    assert r["texts"][0] == hf_greedy(tiny_dir / f"tiny-{arch}", PROMPTS[0], 24).rstrip("\ufffd")
    assert len(r["pieces"][0]) > 5  # streamed token by token, not in one piece


def test_request_unchanged_by_others_joining_and_leaving(gpt2_engine):
    c = Collector(gpt2_engine)
    alone = c.run("alone", PROMPTS[0], max_tokens=40, temperature=0)["texts"][0]
    target = c.request("target", PROMPTS[0], max_tokens=40, temperature=0)
    others = []
    for i, p in enumerate(PROMPTS[1:] * 2):  # join at different steps, leave at different steps
        time.sleep(0.01 * i)
        others.append(c.request(f"o{i}", p, max_tokens=5 + 7 * (i % 4), temperature=0.9 if i % 2 else 0))
    out = c.collect([target, *others])
    assert out["target"]["texts"][0] == alone
    assert all(o["finish"][0] == "length" for o in out.values())


def test_cancel_stops_within_a_step_and_frees_the_slot(gpt2_engine):
    c = Collector(gpt2_engine)
    req = c.request("long", PROMPTS[1], max_tokens=64, temperature=0.8)
    first = c.events.get(timeout=30)
    assert first["type"] == "token"
    gpt2_engine.cancel(req)
    events = []
    while True:
        ev = c.events.get(timeout=10)
        events.append(ev)
        if ev["type"] == "done":
            break
    assert ev["finish_reason"] == "cancelled"
    assert ev["usage"]["completion_tokens"] < 64
    assert len([e for e in events if e["type"] == "token"]) <= 2
    assert not gpt2_engine.running
    assert gpt2_engine.metrics.active.labels("tiny")._value.get() == 0
    assert c.run("next", PROMPTS[2], max_tokens=5)["finish"] == ["length"]


def test_cancel_while_waiting(gpt2_engine):
    c = Collector(gpt2_engine)
    busy = [c.request(f"b{i}", PROMPTS[i % 5], max_tokens=30) for i in range(8)]  # fill every slot
    late = c.request("late", PROMPTS[0], max_tokens=30)
    gpt2_engine.cancel(late)
    out = c.collect([*busy, late])
    assert out["late"]["finish"] == ["cancelled"] and out["late"]["texts"] == [""]


def test_n_alternatives_share_prefill_and_differ(gpt2_engine):
    c = Collector(gpt2_engine)
    r = c.run("n", PROMPTS[3], max_tokens=16, temperature=1.0, top_k=0, top_p=1.0, n=3, seed=5)
    assert r["finish"] == ["length"] * 3
    assert len(set(r["texts"])) > 1
    g = c.run("g", PROMPTS[3], max_tokens=16, temperature=0, n=2)
    assert g["texts"][0] == g["texts"][1]
    assert gpt2_engine.metrics.prompt_tokens.labels("tiny")._value.get() > 0


def test_seed_reproducible_whatever_the_batch(gpt2_engine):
    c = Collector(gpt2_engine)
    a = c.run("s1", PROMPTS[4], max_tokens=20, temperature=0.9, seed=123)["texts"][0]
    noise = [c.request(f"x{i}", p, max_tokens=10, temperature=1.0) for i, p in enumerate(PROMPTS)]
    b = c.request("s2", PROMPTS[4], max_tokens=20, temperature=0.9, seed=123)
    assert c.collect([*noise, b])["s2"]["texts"][0] == a
    assert c.run("s3", PROMPTS[4], max_tokens=20, temperature=0.9, seed=124)["texts"][0] != a


def test_stop_string_ends_the_stream_before_it(gpt2_engine):
    c = Collector(gpt2_engine)
    full = c.run("f", PROMPTS[0], max_tokens=40, temperature=0)["texts"][0]
    stop = full[12:16]
    assert stop.strip(), "need a non-blank stop string from the middle of the output"
    r = c.run("s", PROMPTS[0], max_tokens=40, temperature=0, stop=(stop,))
    assert r["finish"] == ["stop"]
    assert r["texts"][0] == full[:full.index(stop)]
    assert stop not in "".join(r["pieces"][0])


def test_busy_when_queue_is_full(tiny_dir):
    engine = make_engine(tiny_dir / "tiny-gpt2", max_batch=1, max_queue=2, context=256, prefix_cache_mb=0)
    try:
        c = Collector(engine)
        accepted, refused = [], 0
        for i in range(6):
            try:
                accepted.append(c.request(f"q{i}", PROMPTS[0], max_tokens=30))
            except Busy:
                refused += 1
        assert refused >= 3 and len(accepted) <= 3
        assert all(o["finish"] == ["length"] for o in c.collect(accepted).values())
        c.run("after", PROMPTS[1], max_tokens=3)  # capacity is back
    finally:
        engine.stop()


def test_long_prompt_truncated_from_the_left_in_window_steps(gpt2_engine):
    c = Collector(gpt2_engine)
    words = " ".join(f"word{i}" for i in range(600))  # far more than the 512-token context
    r = c.run("long", words, max_tokens=10, temperature=0)
    assert r["finish"] == ["length"]
    n = r["usage"][0]["prompt_tokens"]
    total = len(gpt2_engine.tokenize(words))
    budget = 512 - gpt2_engine.reserve
    step = min(gpt2_engine.window_step, budget // 4)  # steps of at most a quarter of the budget
    assert budget - step < n <= budget and (total - n) % step == 0  # whole window steps dropped


def test_health_probe_runs_a_forward_pass(gpt2_engine):
    assert gpt2_engine.probe().result(timeout=10) is True


def test_many_concurrent_requests_all_complete(gpt2_engine):
    c = Collector(gpt2_engine)
    reqs = [c.request(f"m{i}", PROMPTS[i % 5] * (1 + i % 3), max_tokens=8 + i, temperature=0.7) for i in range(14)]
    out = c.collect(reqs)
    for i in range(14):
        assert out[f"m{i}"]["usage"][0]["completion_tokens"] <= 8 + i
        assert out[f"m{i}"]["finish"][0] in ("length", "stop")
    assert not gpt2_engine.running and gpt2_engine._pending == 0


def _drive(engine, until, limit=3000):
    for _ in range(limit):
        engine.tick()  # (first: what was just submitted is still in the inbox)
        if until():
            return
    raise AssertionError("the engine did not get there")


@pytest.mark.parametrize("busy_tokens", [0, 8])
def test_prewarm_yields_to_running_streams(tiny_dir, busy_tokens):
    """Asserted on the engine's own schedule, not on wall time: a forward
    that carries a prewarm's prefill carries no request's own prefill, and
    beside decoding streams at most `prewarm_busy_tokens` of it (0: the
    prewarm waits while anyone is decoding)."""
    from microservices.engine.engine import Request
    from contract.sampling_params import SamplingParams

    engine = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=256, prefix_cache_mb=4, prefill_chunk=16,
                         prewarm_busy_tokens=busy_tokens)
    engine.stop()  # driven tick by tick below
    engine.schedule = []
    events = []
    doc = " ".join(PROMPTS * 6)
    stream = Request(id="s", route="tiny", prompt=PROMPTS[0], params=SamplingParams(max_tokens=30), emit=events.append, writer="bob")
    warm = Request(id="w", route="tiny", prompt=doc, prewarm=True, emit=events.append, writer="ada")
    engine.submit(stream)
    engine.submit(warm)
    _drive(engine, lambda: engine.idle)
    with_prewarm = [step for step in engine.schedule if any(x.startswith("prewarm:") for x in step)]
    assert with_prewarm and not any(x.startswith("prefill:") for step in with_prewarm for x in step)
    beside = [step for step in with_prewarm if "decode:s" in step]
    if busy_tokens:  # it made progress under load, a few tokens a step
        assert len(beside) > 3 and all(x == f"prewarm:w:{busy_tokens}" for step in beside for x in step if x != "decode:s")
    else:  # it began only when the stream had ended
        assert not beside and engine.schedule.index(with_prewarm[0]) > max(
            i for i, step in enumerate(engine.schedule) if "decode:s" in step)
    assert [e.finish_reason for e in events if e.id == "w"] == ["prefilled"]
    assert len([e for e in events if e.id == "s" and e.__class__.__name__ == "Token"]) > 0
    # the writer's next request finds the draft already computed
    events.clear()
    ask = Request(id="a", route="tiny", prompt=doc + " And", params=SamplingParams(max_tokens=2), emit=events.append, writer="ada")
    engine.submit(ask)
    _drive(engine, lambda: engine.idle)
    done = [e for e in events if e.id == "a" and e.__class__.__name__ == "Done"]
    assert done[0].usage.prompt_tokens > 64 and done[0].usage.cached_tokens >= done[0].usage.prompt_tokens - 2


def test_a_prewarm_waits_for_its_writers_request_in_flight(tiny_dir):
    """The editor prewarms while a suggestion streams (the writer typed on):
    the draft's slot is busy with that request, so a prewarm run now would
    miss and compute the whole draft again in another slot. It waits, and
    then computes only what the writer added."""
    from microservices.engine.engine import Request
    from contract.sampling_params import SamplingParams

    engine = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=512, prefix_cache_mb=4, prefill_chunk=16)
    engine.stop()
    events = []
    doc = " ".join(PROMPTS * 6)
    engine.submit(Request(id="a", route="tiny", prompt=doc, params=SamplingParams(max_tokens=20, n=2),
                          emit=events.append, writer="ada"))
    _drive(engine, lambda: engine.running)
    engine.submit(Request(id="w", route="tiny", prompt=doc + " And then", prewarm=True, emit=events.append, writer="ada"))
    _drive(engine, lambda: engine.idle)
    (done,) = [e for e in events if e.id == "w"]
    assert done.finish_reason == "prefilled"
    assert done.usage.cached_tokens >= len(engine.tokenize(doc)) - 2, done.usage


def test_a_real_request_takes_over_its_writers_prewarm(tiny_dir):
    """A writer who pauses before their prewarm finishes keeps what it computed."""
    from microservices.engine.engine import Request
    from contract.sampling_params import SamplingParams

    engine = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=256, prefix_cache_mb=4, prefill_chunk=16)
    engine.stop()
    events = []
    doc = " ".join(PROMPTS * 6)
    engine.submit(Request(id="w", route="tiny", prompt=doc, prewarm=True, emit=events.append, writer="ada"))
    for _ in range(3):
        engine.tick()
    engine.submit(Request(id="a", route="tiny", prompt=doc + " And", params=SamplingParams(max_tokens=2),
                          emit=events.append, writer="ada"))
    _drive(engine, lambda: engine.idle)
    assert [e.finish_reason for e in events if e.id == "w"] == ["dropped"]
    done = [e for e in events if e.id == "a" and e.__class__.__name__ == "Done"]
    assert done[0].usage.cached_tokens >= 3 * 16


def test_windowing_equals_a_cold_run_token_for_token(tiny_dir):
    """A draft longer than the context, continued as it grows: the engine
    keeps a window whose start moves only in whole steps (characters, then
    tokens), hits its cache, and each reply equals transformers' greedy
    continuation of exactly the kept tokens."""
    from microservices.engine.loader import load_tokenizer

    folder = tiny_dir / "tiny-llama"
    engine = make_engine(folder, max_batch=2, context=128, window_step=16, prefix_cache_mb=4, reserve_tokens=8)
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    tok = load_tokenizer(folder)
    try:
        c = Collector(engine)
        base = " ".join(PROMPTS * 40)  # ~4x the 2,048-character window
        assert len(base) > engine.char_window
        kept = []
        for i, extra in enumerate(["", " The", " The end of", " The end of it all"]):
            prompt = base + extra
            r = c.run(f"g{i}", prompt, max_tokens=8, temperature=0, writer="ada")
            window = engine._char_window(prompt)
            ids = engine.tokenize(window)
            budget = engine.context - engine.reserve
            ids = ids[-(-(len(ids) - budget) // 16) * 16:] if len(ids) > budget else ids
            assert r["usage"][0]["prompt_tokens"] == len(ids)
            with torch.no_grad():
                out = hf.generate(torch.tensor([ids]), max_new_tokens=8, min_new_tokens=8, do_sample=False,
                                  pad_token_id=tok.eos_token_id)
            assert r["texts"][0] == tok.decode(out[0, len(ids):], skip_special_tokens=True,
                                               clean_up_tokenization_spaces=False).rstrip("\ufffd")
            kept.append((window[:40], r["usage"][0]["cached_tokens"]))
        assert len({start for start, _ in kept}) == 1  # the window's start did not move
        assert all(cached > 64 for _, cached in kept[1:])  # so every later request hit the cache
    finally:
        engine.stop()
