"""The embedded default (SmolLM2-135M, converted at set-up) loads, matches
transformers, and continues English through the engine."""
import pytest
import torch
from transformers import AutoModelForCausalLM

from contract import registry
from microservices import weights
from microservices.engine.loader import load_model, load_tokenizer
from microservices.engine.model import Segments
from tests.microservices.conftest import Collector, make_engine


@pytest.fixture(scope="module")
def smollm2_dir():
    m = registry.load(registry.DEFAULT_REGISTRY).models["smollm2"]
    ok, why = weights.availability(m)
    assert ok, why  # scripts/setup converts it; its absence is a set-up bug, not a skip
    return weights.model_dir(m)


def test_conversion_is_idempotent(smollm2_dir, capsys):
    m = registry.load(registry.DEFAULT_REGISTRY).models["smollm2"]
    weights.convert_embedded(m)
    assert "already converted" in capsys.readouterr().out


def test_logits_match_transformers(smollm2_dir):
    ours = load_model(smollm2_dir, "cpu")
    ours.setup_cache(1, 64)
    ids = load_tokenizer(smollm2_dir)("The capital of France is", return_tensors="pt").input_ids
    t = ids.shape[1]
    hf = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()
    with torch.no_grad():
        a = ours(ids[0], Segments([0], [0], [t]))
        torch.testing.assert_close(a, hf(ids).logits[0], atol=2e-3, rtol=1e-3)


def test_engine_continues_english(smollm2_dir):
    engine = make_engine(smollm2_dir, routes={"smollm2": 0}, max_batch=4, context=256, prefix_cache_mb=0)
    try:
        r = Collector(engine).run("e", "The capital of France is", route="smollm2", max_tokens=6, temperature=0)
        assert "Paris" in r["texts"][0]
    finally:
        engine.stop()
