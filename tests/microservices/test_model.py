"""The engine's transformer computes what Hugging Face's does, for both layouts."""
import pytest
import torch
from transformers import AutoModelForCausalLM

from microservices.engine.loader import load_model, load_tokenizer
from microservices.engine.model import Segments

PROMPT = "The lighthouse keeper climbed the stairs, café au lait in hand 😀, and"


def _full(model, ids, slot=0):
    return model(ids[0], Segments([slot], [0], [ids.shape[1]]))


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
    ids = load_tokenizer(folder)(PROMPT, return_tensors="pt").input_ids[0]
    t = len(ids)
    with torch.no_grad():
        full = _full(m, ids[None])
        m.setup_cache(3, 128)
        s = t // 2
        m(ids[:s], Segments([1], [0], [s]))
        m(ids[s:t - 1], Segments([1], [s], [t - 1 - s]))
        last = m(ids[t - 1:], Segments([1], [t - 1], [1]))
    torch.testing.assert_close(last[0], full[-1], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_packed_rows_of_different_lengths_equal_each_alone(tiny_dir, name):
    """A chunk of one sequence, a decode row of another and a fresh prompt in
    one packed forward give each row the logits it gets alone."""
    folder = tiny_dir / name
    m = load_model(folder, "cpu")
    m.setup_cache(4, 128)
    ids = load_tokenizer(folder)(PROMPT, return_tensors="pt").input_ids[0]
    t = len(ids)
    with torch.no_grad():
        alone = [_full(m, ids[None, :k], slot=3)[-1] for k in (t, t - 2, 5)]
        m.setup_cache(4, 128)
        m(ids[:8], Segments([0], [0], [8]))
        m(ids[:t - 3], Segments([1], [0], [t - 3]))
        packed = m(torch.cat([ids[8:t], ids[t - 3:t - 2], ids[:5]]),
                   Segments([0, 1, 2], [8, t - 3, 0], [t - 8, 1, 5]), logits_at=torch.tensor([t - 9, t - 8, t - 3]))
    for got, want in zip(packed, alone):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_half_precision_prefill_stays_close_to_fp32(tiny_dir, name):
    """bf16 matmuls for prompt chunks (fast on AMX CPUs and GPUs): the same
    next-token choices, logits within bf16's rounding; decode rows keep fp32."""
    folder = tiny_dir / name
    m = load_model(folder, "cpu")
    m.setup_cache(2, 128)
    ids = load_tokenizer(folder)(PROMPT * 2, return_tensors="pt").input_ids
    with torch.no_grad():
        full = _full(m, ids)
        m.use_half_prefill(torch.bfloat16, min_rows=8)
        half = _full(m, ids)
        decode = m(ids[0, :1], Segments([1], [0], [1]))  # one row: the fp32 weights
    assert not torch.equal(half, full)  # the bf16 path really ran
    assert (half.argmax(-1) == full.argmax(-1)).float().mean() >= 0.9
    assert (half - full).abs().mean() < 0.05 * full.abs().mean()  # bf16 keeps 8 bits of mantissa
    torch.testing.assert_close(decode[0], full[0], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_packed_fp16_weights_stay_close_to_fp32(tiny_dir, name):
    """fbgemm fp16 weights for decode rows and short chunks: the same
    next-token choices, logits within fp16's rounding of the weights;
    matmuls over max_rows or more rows keep the fp32 weights exactly."""
    folder = tiny_dir / name
    m = load_model(folder, "cpu")
    m.setup_cache(3, 128)
    ids = load_tokenizer(folder)(PROMPT * 2, return_tensors="pt").input_ids
    with torch.no_grad():
        full = _full(m, ids)
        step = m(ids[0, :1], Segments([1], [0], [1]))
        m.use_packed_fp16(max_rows=ids.shape[1])
        long = _full(m, ids, slot=2)  # as many rows as max_rows: fp32
        short = _full(m, ids[:, :ids.shape[1] - 1])
        packed_step = m(ids[0, :1], Segments([1], [0], [1]))
    torch.testing.assert_close(long, full, atol=1e-5, rtol=1e-5)
    assert not torch.equal(short, full[:-1]) and not torch.equal(packed_step, step)  # the fp16 path really ran
    assert (short.argmax(-1) == full[:-1].argmax(-1)).float().mean() >= 0.95
    assert (short - full[:-1]).abs().mean() < 2e-3 * full.abs().mean()  # fp16 keeps 11 bits of mantissa
    torch.testing.assert_close(packed_step, step, atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_batched_decode_rows_ignore_whatever_the_cache_held(tiny_dir, name):
    """Short decode rows attend together over a gathered span padded to the
    longest row; the cache is never zeroed, so padding positions may hold
    anything (here NaN) and must not leak into any row."""
    folder = tiny_dir / name
    m = load_model(folder, "cpu")
    m.setup_cache(6, 128)
    ids = load_tokenizer(folder)(PROMPT, return_tensors="pt").input_ids[0]
    lengths = [5, 9, 3, 12, 7]
    with torch.no_grad():
        alone = [_full(m, ids[None, :n + 1], slot=5)[-1] for n in lengths]
        for layer in m.layers:
            layer.attention.cache.k.fill_(float("nan"))
            layer.attention.cache.v.fill_(float("nan"))
        for slot, n in enumerate(lengths):
            m(ids[:n], Segments([slot], [0], [n]))
        seg = Segments(list(range(len(lengths))), lengths, [1] * len(lengths))
        assert seg.batched == len(lengths)
        got = m(torch.stack([ids[n] for n in lengths]), seg)
    for g, want in zip(got, alone):
        torch.testing.assert_close(g, want, atol=1e-4, rtol=1e-4)
