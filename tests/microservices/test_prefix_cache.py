"""Prefix reuse: a hit gives exactly the cold result, edits fall back to the
longest valid prefix, and memory stays within the budget."""
import pytest
import torch

from microservices.engine.prefix_cache import PrefixCache
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


def test_adapter_is_part_of_the_key():
    cache = PrefixCache(budget_bytes=10**8, min_tokens=1)
    toks = torch.arange(20)
    cache.insert(0, toks, torch.zeros(2, 2, 1, 20, 4))
    assert cache.lookup(1, toks)[0] is None
    assert cache.lookup(0, toks)[1] == 20


def test_lru_eviction_respects_the_budget():
    entry_bytes = 2 * 2 * 1 * 20 * 4 * 4 + 20 * 8
    cache = PrefixCache(budget_bytes=entry_bytes * 3, min_tokens=1)
    for i in range(3):
        cache.insert(0, torch.arange(20) + 100 * i, torch.zeros(2, 2, 1, 20, 4))
    cache.lookup(0, torch.arange(20))  # touch the first: the second is now oldest
    cache.insert(0, torch.arange(20) + 300, torch.zeros(2, 2, 1, 20, 4))
    assert cache.nbytes <= cache.budget and len(cache.entries) == 3
    assert cache.lookup(0, torch.arange(20) + 100)[1] == 0  # evicted
    assert cache.lookup(0, torch.arange(20))[1] == 20


def test_superseded_prefix_entries_are_replaced():
    cache = PrefixCache(budget_bytes=10**8, min_tokens=1)
    cache.insert(0, torch.arange(10), torch.zeros(1, 2, 1, 10, 2))
    cache.insert(0, torch.arange(15), torch.zeros(1, 2, 1, 15, 2))
    assert len(cache.entries) == 1


def test_tiny_budget_evicts_and_stays_correct(tiny_dir, engines):
    cold, _ = engines
    small = make_engine(tiny_dir / "tiny-llama", max_batch=4, context=512, prefix_cache_mb=0.05)
    try:
        c = Collector(small)
        for i in range(4):
            p = f"Story {i}: " + DOC
            assert c.run(f"s{i}", p, max_tokens=8, temperature=0)["texts"] == cold.run(f"k{i}", p, max_tokens=8, temperature=0)["texts"]
            assert small.prefix.nbytes <= small.prefix.budget
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
