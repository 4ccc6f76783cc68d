"""The compiled decode step's C++ ops (csrc/decode_ops.cpp) compute what
their Python versions compute, refuse what they cannot serve with a clear
error, follow the model to new caches, and are optional: without them the
graph calls the Python versions."""
import pytest
import torch

from microservices.engine import compiled, native
from microservices.engine.loader import load_model
from microservices.engine.metrics import EngineMetrics
from microservices.engine.model import Segments, Step

pytestmark = pytest.mark.skipif(bool(native.missing_tools()) or not native.load(),
                                reason="the C++ ops need g++ and ninja (scripts/setup installs both)")
SLOTS, CONTEXT = 6, 320  # rows from 256 keys on take SDPA, shorter ones the loops
NO_SHARE = torch.zeros(1, 2, dtype=torch.long)


@pytest.fixture(scope="module", params=[None, torch.bfloat16], ids=["fp32-kv", "bf16-kv"])
def llama(tiny_dir, request):
    m = load_model(tiny_dir / "tiny-llama", "cpu")
    m.use_packed_fp16()
    m.use_kv_dtype(request.param)
    m.setup_cache(SLOTS, CONTEXT)
    m.compile_decode()  # registers the modules' keys; not traced here
    compiled._register_native_fakes()
    m.decode_graph.native = True
    m.decode_graph.bind()
    return m


def test_fp16_linear_is_fbgemms_packed_matmul(llama):
    lin = llama.layers[0].feed_forward.w2
    x = torch.randn(5, lin.in_features)
    want = torch.ops.quantized.linear_dynamic_fp16(x, lin.packed)
    assert torch.equal(torch.ops.writeup_native.fp16_linear(x, lin.graph_key), want)


@pytest.mark.parametrize("rows", [1, 3, 6])
def test_decode_attend_writes_the_cache_and_attends_as_attention_attend(llama, rows):
    """Rows in different slots at different positions, short and long (GQA:
    the tiny Llama has fewer kv heads than query heads): the same cache
    contents after and the same outputs as the Python path, which SDPA computes."""
    torch.manual_seed(rows)
    at = llama.layers[1].attention
    a = llama.args
    assert a.n_kv_head < a.n_head
    slots, pos = list(range(rows)), [int(p) for p in torch.randint(0, 255, (rows,))]
    pos[-1] = CONTEXT - 1 - rows  # one long row in every batch
    at.cache.k.normal_(), at.cache.v.normal_()
    assert at.cache.k.dtype == (llama.kv_dtype or torch.float32)
    q, k, v = torch.randn(rows, a.n_head, a.head_dim), torch.randn(rows, a.n_kv_head, a.head_dim), torch.randn(rows, a.n_kv_head, a.head_dim)
    seg = Segments(slots, pos, [1] * rows)
    step = Step(seg, seg.token_slots(), seg.positions(), None, None, seg.share_table())
    saved = at.cache.k.clone(), at.cache.v.clone()
    want = at.attend(q, k, v, step)
    after = at.cache.k.clone(), at.cache.v.clone()
    at.cache.k.copy_(saved[0]), at.cache.v.copy_(saved[1])
    got = torch.ops.writeup_native.decode_attend(q, k, v, step.slot, step.pos, step.share, at.graph_key)
    assert got.dtype == want.dtype == torch.float32  # a bf16 cache: fp32 in and out
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert torch.equal(at.cache.k, after[0]) and torch.equal(at.cache.v, after[1])


@pytest.mark.parametrize("shared", [40, 280])
def test_siblings_attend_as_if_each_held_a_copy_of_the_shared_prompt(llama, shared):
    """A request's alternatives: slot 0 holds the prompt (0..shared-1), each
    sibling (slots 0, 2, 4) its own reply from there on, and attends over
    both as one sequence, beside an ordinary row. The C++ op and the Python
    path give the same bits (the same ops in the same order), and both what
    attention over a sequence holding a copy of the prompt gives."""
    torch.manual_seed(shared)
    at, a = llama.layers[1].attention, llama.args
    at.cache.k.normal_(), at.cache.v.normal_()
    end = shared + 7  # each sibling's 7th reply token
    slots, pos = [0, 2, 4, 1], [end - 1] * 3 + [100]
    shares = [(0, shared)] * 3 + [None]
    q, k, v = torch.randn(4, a.n_head, a.head_dim), torch.randn(4, a.n_kv_head, a.head_dim), torch.randn(4, a.n_kv_head, a.head_dim)
    seg = Segments(slots, pos, [1] * 4, shares=shares)
    assert seg.groups == {0: 3} and not seg.batched
    step = Step(seg, seg.token_slots(), seg.positions(), None, None, seg.share_table())
    saved = at.cache.k.clone(), at.cache.v.clone()
    want = at.attend(q, k, v, step)
    at.cache.k.copy_(saved[0]), at.cache.v.copy_(saved[1])
    got = torch.ops.writeup_native.decode_attend(q, k, v, step.slot, step.pos, step.share, at.graph_key)
    assert torch.equal(got[:3], want[:3])  # (the ordinary row: C++ loops against SDPA, as above)
    torch.testing.assert_close(got[3], want[3], atol=1e-5, rtol=1e-5)
    dtype = torch.float32
    for i, slot in enumerate(slots[:3]):  # a sequence that holds a copy of the prompt
        keys = torch.cat([at.cache.k[0, :, :shared], at.cache.k[slot, :, shared:end]], 1).to(dtype)
        vals = torch.cat([at.cache.v[0, :, :shared], at.cache.v[slot, :, shared:end]], 1).to(dtype)
        ref = torch.nn.functional.scaled_dot_product_attention(q[i][:, None], keys, vals, enable_gqa=True)
        torch.testing.assert_close(got[i], ref.reshape(-1), atol=1e-5, rtol=1e-5)


def test_decode_attend_refuses_a_position_outside_the_cache(llama):
    at, a = llama.layers[0].attention, llama.args
    q, kv = torch.randn(1, a.n_head, a.head_dim), torch.randn(1, a.n_kv_head, a.head_dim)
    with pytest.raises(RuntimeError, match="row 0 writes outside the cache"):
        torch.ops.writeup_native.decode_attend(q, kv, kv, torch.tensor([0]), torch.tensor([CONTEXT]), NO_SHARE, at.graph_key)
    with pytest.raises(RuntimeError, match="no KV cache registered under key 999999"):
        torch.ops.writeup_native.decode_attend(q, kv, kv, torch.tensor([0]), torch.tensor([0]), NO_SHARE, 999999)


def _decode(m, lengths, steps=3):
    torch.manual_seed(0)
    out = []
    with torch.no_grad():
        for slot, t in enumerate(lengths):
            m(torch.randint(0, 1000, (t,)), Segments([slot], [0], [t]))
        for step in range(steps):
            tokens = torch.tensor([(7 * i + step) % 1000 for i in range(len(lengths))])
            out.append(m(tokens, Segments(list(range(len(lengths))), [t + step for t in lengths], [1] * len(lengths))))
    return out


def _warm(m):
    m.compile_decode()
    m.decode_graph.counter = EngineMetrics().compiled
    m.decode_graph.warm_up(SLOTS - 1, 0)
    return m.decode_graph


def test_the_graph_follows_the_model_to_new_caches(tiny_dir):
    """setup_cache after warm-up (new cache tensors): the C++ ops write and
    read the new ones, so decoding still matches eager."""
    eager, m = (load_model(tiny_dir / "tiny-llama", "cpu") for _ in range(2))
    for x in (eager, m):
        x.use_packed_fp16()
        x.setup_cache(SLOTS, CONTEXT)
    graph = _warm(m)
    assert graph.native
    old = m.layers[0].attention.cache.k
    m.setup_cache(SLOTS, CONTEXT)
    eager.setup_cache(SLOTS, CONTEXT)
    assert m.layers[0].attention.cache.k is not old
    for got, want in zip(_decode(m, [5, 30]), _decode(eager, [5, 30])):
        torch.testing.assert_close(got, want, atol=3e-4, rtol=1e-4)
    assert graph.counter.labels("ran")._value.get() == 3


def test_a_bf16_kv_cache_decodes_close_to_fp32_and_the_graph_as_eager(tiny_dir):
    """Half the bytes: keys and values round to bf16, attention sums stay
    fp32. The compiled graph (C++ ops) reads the same bf16 cache as eager."""
    fp32, eager, m = (load_model(tiny_dir / "tiny-llama", "cpu") for _ in range(3))
    for x in (eager, m):
        x.use_kv_dtype(torch.bfloat16)
    for x in (fp32, eager, m):
        x.use_packed_fp16()
        x.setup_cache(SLOTS, CONTEXT)
    assert m.layers[0].attention.cache.k.dtype == torch.bfloat16 and m.layers[0].attention.cache.k.element_size() == 2
    graph = _warm(m)
    assert graph.native
    lengths = [5, 30, 270]  # short rows (the loops) and a long one (SDPA)
    for got, want, full in zip(_decode(m, lengths), _decode(eager, lengths), _decode(fp32, lengths)):
        torch.testing.assert_close(got, want, atol=3e-4, rtol=1e-4)
        assert 0 < (got - full).abs().max() < 0.05 * full.abs().max()  # rounded, not lost
    assert graph.counter.labels("ran")._value.get() == 3


def test_without_the_cpp_ops_the_graph_calls_the_python_ones(tiny_dir, monkeypatch):
    monkeypatch.setattr(native, "load", lambda: False)
    eager, m = (load_model(tiny_dir / "tiny-gpt2", "cpu") for _ in range(2))
    for x in (eager, m):
        x.use_packed_fp16()
        x.setup_cache(SLOTS, CONTEXT)
    graph = _warm(m)
    assert not graph.native
    for got, want in zip(_decode(m, [4, 20, 9]), _decode(eager, [4, 20, 9])):
        torch.testing.assert_close(got, want, atol=3e-4, rtol=1e-4)
    assert graph.counter.labels("ran")._value.get() == 3


def test_a_new_context_after_warm_up_decodes_eagerly(tiny_dir, caplog):
    """The graph guards nothing on the model (a step's guards cost more than
    its kernels): a rope table of another size would be read out of bounds,
    so setup_cache with a new context turns the graph off, correctly."""
    eager, m = (load_model(tiny_dir / "tiny-llama", "cpu") for _ in range(2))
    for x in (eager, m):
        x.use_packed_fp16()
        x.setup_cache(SLOTS, CONTEXT)
    graph = _warm(m)
    m.setup_cache(SLOTS, CONTEXT // 2)
    eager.setup_cache(SLOTS, CONTEXT // 2)
    assert graph.stale and "the context changed" in caplog.text
    for got, want in zip(_decode(m, [5, 30]), _decode(eager, [5, 30])):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert graph.counter.labels("ran")._value.get() == 0
    assert graph.counter.labels("eager")._value.get() == 3


def test_a_build_that_cannot_happen_is_logged_and_refused(tmp_path, caplog):
    """(A read-only home under systemd, say): the caller serves the Python ops."""
    (tmp_path / "a-file").write_text("")
    assert native.build(tmp_path / "a-file" / "ext") is False
    assert "building the compiled decode step's C++ ops in" in caplog.text
