"""The engine's transformer computes what Hugging Face's does, for both layouts."""
import pytest
import torch
from transformers import AutoModelForCausalLM

from microservices.engine.loader import load_model, load_tokenizer
from microservices.engine.model import attention_mask

PROMPT = "The lighthouse keeper climbed the stairs, café au lait in hand 😀, and"


def _full(model, ids):
    t = ids.shape[1]
    return model(ids, [0], torch.arange(t)[None], attention_mask(torch.tensor([0]), t, t))[0]


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_logits_match_transformers(tiny_dir, name):
    folder = tiny_dir / name
    ours, hf = load_model(folder, "cpu"), AutoModelForCausalLM.from_pretrained(folder).eval()
    ours.setup_cache(2, 128)
    ids = load_tokenizer(folder)(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(_full(ours, ids), hf(ids).logits[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_cached_decode_matches_full_forward(tiny_dir, name):
    """Prefill in two chunks into slot 1, then one decode step, equals one full pass."""
    folder = tiny_dir / name
    m = load_model(folder, "cpu")
    m.setup_cache(3, 128)
    ids = load_tokenizer(folder)(PROMPT, return_tensors="pt").input_ids
    t = ids.shape[1]
    with torch.no_grad():
        full = _full(m, ids)
        m.setup_cache(3, 128)
        s = t // 2
        m(ids[:, :s], [1], torch.arange(s)[None], attention_mask(torch.tensor([0]), s, s))
        m(ids[:, s:t - 1], [1], torch.arange(s, t - 1)[None], attention_mask(torch.tensor([s]), t - 1 - s, t - 1))
        last = m(ids[:, t - 1:], [1], torch.tensor([[t - 1]]), attention_mask(torch.tensor([t - 1]), 1, t),
                 logits_at=torch.zeros(1, dtype=torch.long))
    torch.testing.assert_close(last[0], full[-1], atol=1e-4, rtol=1e-4)
