"""Prefix reuse: a hit gives exactly the cold result, edits fall back to the
longest valid prefix, and memory stays within the budget."""
import pytest
import torch

from microservices.engine.slots import SlotPool
from tests.microservices.conftest import Collector, make_engine

DOC = ("The harbour town woke slowly. Fishermen mended nets along the quay while gulls argued over scraps, "
       "and the baker's boy ran between the houses with a basket of warm loaves. ") * 4


@pytest.fixture
def engines(tiny_dir):
    cold = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=512, prefix_cache_mb=0)
    warm = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=512, prefix_cache_mb=64)
    yield Collector(cold), Collector(warm)
    cold.stop()
    warm.stop()


def test_growing_document_hits_and_matches_cold(engines):
    cold, warm = engines
    prompts = [DOC, DOC + "Down by the water", DOC + "Down by the water, an old woman"]
    for i, p in enumerate(prompts):
        w = warm.run(f"w{i}", p, max_tokens=16, temperature=0)
        c = cold.run(f"c{i}", p, max_tokens=16, temperature=0)
        assert w["texts"] == c["texts"]
        cached = w["usage"][0]["cached_tokens"]
        if i:
            assert cached >= len(warm.engine.tokenize(prompts[i - 1])) - 2
        else:
            assert cached == 0
    assert warm.engine.metrics.prefix_hits._value.get() == 2


def test_edit_in_the_middle_falls_back_to_the_valid_prefix(engines):
    cold, warm = engines
    warm.run("w0", DOC, max_tokens=4, temperature=0)
    cut = len(DOC) // 2
    edited = DOC[:cut] + " Suddenly, a storm. " + DOC[cut:]
    w = warm.run("w1", edited, max_tokens=16, temperature=0)
    c = cold.run("c1", edited, max_tokens=16, temperature=0)
    assert w["texts"] == c["texts"]
    reused = w["usage"][0]["cached_tokens"]
    valid = len(warm.engine.tokenize(DOC[:cut]))
    assert 0 < reused <= valid


def test_scope_is_writer_and_adapter():
    pool = SlotPool([0, 1, 2], per_scope=4)
    ids = torch.arange(40)
    slot, hit = pool.take(("ada", 0), ids)
    pool.park(slot, ("ada", 0), ids)
    assert pool.take(("bob", 0), ids)[1] == 0  # another writer: no hit, whatever the text
    assert pool.take(("ada", 1), ids)[1] == 0  # another adapter: other keys and values
    assert pool.take(("ada", 0), torch.cat([ids, torch.tensor([7])])) == (slot, 40)


def test_lru_eviction_and_per_writer_cap():
    pool = SlotPool([0, 1, 2, 3], per_scope=2)
    for i, writer in enumerate(["ada", "ada", "ada", "bob"]):
        s, _ = pool.take((writer, 0), torch.arange(i * 100, i * 100 + 20))
        pool.park(s, (writer, 0), torch.arange(i * 100, i * 100 + 20))
    assert len(pool.parked(("ada", 0))) == 2  # ada's oldest draft made room for her newest
    assert pool.take(("ada", 0), torch.arange(0, 20))[1] == 0
    # every slot busy or parked: a new writer evicts the least recently used parked slot
    busy = [pool.take((f"w{i}", 0), torch.arange(20)) for i in range(3)]
    assert all(b is not None for b in busy) and pool.take(("z", 0), torch.arange(20)) is None


def test_short_matches_do_not_claim_a_writers_other_draft():
    pool = SlotPool([0, 1], per_scope=4, min_tokens=16)
    a, _ = pool.take(("ada", 0), torch.arange(100))
    pool.park(a, ("ada", 0), torch.arange(100))
    other = torch.cat([torch.arange(5), torch.arange(500, 600)])  # shares 5 tokens only
    b, hit = pool.take(("ada", 0), other)
    assert hit == 0 and b is not a and pool.take(("ada", 0), torch.arange(100))[1] == 100


def test_writers_do_not_share_or_count_each_others_cache(engines):
    cold, warm = engines
    warm.run("a0", DOC, writer="ada", max_tokens=4, temperature=0)
    bob = warm.run("b0", DOC + " And", writer="bob", max_tokens=8, temperature=0)
    assert bob["usage"][0]["cached_tokens"] == 0  # Bob guessed Ada's text exactly: no hit, no count
    ada = warm.run("a1", DOC + " And", writer="ada", max_tokens=8, temperature=0)
    assert ada["usage"][0]["cached_tokens"] >= len(warm.engine.tokenize(DOC)) - 2
    assert ada["texts"] == bob["texts"] == cold.run("c", DOC + " And", max_tokens=8, temperature=0)["texts"]


def test_a_hit_adds_only_the_new_tokens_in_place(engines):
    """Versions of a draft share one slot: the next request computes only
    the tokens past what the slot already holds, and moves nothing."""
    _, warm = engines
    engine = warm.engine
    warm.run("v0", DOC, writer="ada", max_tokens=4, temperature=0)
    (slot,) = engine.pool.parked(("ada", 0))
    r = warm.run("v1", DOC + " The end", writer="ada", max_tokens=1, temperature=0)
    prefilled = r["usage"][0]["prompt_tokens"] - r["usage"][0]["cached_tokens"]
    assert r["usage"][0]["cached_tokens"] >= len(engine.tokenize(DOC)) - 2
    assert prefilled <= 8 and engine.pool.parked(("ada", 0)) == [slot]


def test_tiny_budget_evicts_and_stays_correct(tiny_dir, engines):
    cold, _ = engines
    small = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=512, prefix_cache_mb=0.6)  # ~1 parked slot
    try:
        c = Collector(small)
        for i in range(4):
            p = f"Story {i}: " + DOC
            assert c.run(f"s{i}", p, max_tokens=8, temperature=0)["texts"] == cold.run(f"k{i}", p, max_tokens=8, temperature=0)["texts"]
        # memory is the budget's slots beyond a full batch, allocated once (idle batch slots park too)
        assert len(small.pool.slots) - small.max_batch == int(0.6 * 2**20 // small.slot_bytes) >= 1
    finally:
        small.stop()


def test_long_document_window_keeps_hitting(tiny_dir):
    engine = make_engine(tiny_dir / "tiny-llama", max_batch=2, context=256, window_step=64, prefix_cache_mb=64)
    try:
        c = Collector(engine)
        doc = DOC * 2  # longer than the context
        c.run("a", doc, max_tokens=8, temperature=0)
        r = c.run("b", doc + " More", max_tokens=8, temperature=0)
        assert r["usage"][0]["cached_tokens"] > 100  # same window start, so the prefix still matches
    finally:
        engine.stop()


def test_alternatives_share_a_long_prompt_and_it_outlives_the_first_to_end(tiny_dir):
    """n alternatives of a long prompt read it from slots[0] (no copy: the
    others hold only their replies). When alternative 0 ends first, slots[0]
    stays busy until the others end: the writer's next request, an edit in
    the middle that would rewrite it, takes another slot, and the others
    decode exactly as with their own copies of the prompt."""
    from microservices.engine.engine import Engine, Request
    from microservices.engine.loader import load_model, load_tokenizer
    from contract.sampling_params import SamplingParams

    folder = tiny_dir / "tiny-llama"
    cut = len(DOC) // 2
    edited = DOC[:cut] + " Suddenly, a storm. " + DOC[cut:]
    texts = {}
    for share_from in (64, 10**6):  # shared; copied, as for short prompts
        engine = Engine(load_model(folder, "cpu"), load_tokenizer(folder), routes={"tiny": 0}, max_batch=4,
                        context=512, prefix_cache_mb=64, share_prompt_from=share_from)
        got = {}

        def emit(ev):
            if ev.__class__.__name__ == "Token":
                got[ev.id, ev.index] = got.get((ev.id, ev.index), "") + ev.text

        req = Request(id="a", route="tiny", prompt=DOC, emit=emit, writer="ada",
                      params=SamplingParams(n=3, max_tokens=12, temperature=0))
        engine.submit(req)
        with torch.no_grad():
            while not engine.running or len(engine.running[0].generated) < 3:
                engine.tick()
            assert req.shared == (share_from == 64)
            if req.shared:
                assert all(len(s.tokens) == 0 for s in req.slots[1:])  # replies only: no copy of the prompt
            engine._finish(engine.running[0], "stop")  # alternative 0 stops first
            assert req.slots[0].busy == req.shared
            engine.submit(Request(id="b", route="tiny", prompt=edited, emit=emit, writer="ada",
                                  params=SamplingParams(max_tokens=12, temperature=0)))
            while engine.tick():
                if req.shared and req.live:
                    assert all(s.slot is not req.slots[0] for s in engine.running if s.req.id == "b")
        assert not any(s.busy for s in engine.pool.slots)
        if req.shared:  # slots[0] parked with the prompt and its reply; the others free
            assert len(req.slots[0].tokens) > len(req.ids) and all(s.scope is None for s in req.slots[1:])
        texts[share_from] = got
    assert texts[64] == texts[10**6] and len(texts[64]) == 4
