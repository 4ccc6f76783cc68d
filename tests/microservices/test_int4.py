"""4-bit weights for decode rows (engine/int4.py): exact on weights that were
4-bit already, used only where asked and only for few rows, the same in the
compiled decode graph as eager, and chosen by the registry's int4_weights."""
import pytest
import torch

from microservices.engine import adapters, int4
from microservices.engine.compiled import compiler_available
from microservices.engine.loader import int4_weights, load_model
from microservices.engine.metrics import EngineMetrics
from microservices.engine.model import Linear, LoRARows, Segments
from tests.microservices.test_adapters import TARGETS, make_adapter

AVX512 = torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def _to_4bit(model):
    """Round every eligible linear to 4 bits in groups, as a Q4_1 GGUF's
    dequantized weights are (the embedded model's)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, Linear) and int4.eligible(m.weight):
                m.weight.copy_(int4.dequantize(*int4.quantize(m.weight)))
    return model


def _linears(model):
    return [m for m in model.modules() if isinstance(m, Linear) and int4.eligible(m.weight)]


def test_requantizing_4bit_weights_is_exact_and_anything_else_is_not():
    w = torch.randn(64, 96)
    assert not int4.is_exact(w)
    q, scale, lo = int4.quantize(w)
    assert q.min() >= 0 and q.max() <= 15
    w4 = int4.dequantize(q, scale, lo)
    assert int4.is_exact(w4)
    assert (w4 - w).abs().max() <= scale.max() / 2 + 1e-6  # at most half a step off


def test_the_kernel_computes_the_4bit_matmul():
    w = int4.dequantize(*int4.quantize(torch.randn(48, 64)))
    packed, sz = int4.pack(w)
    x, b = torch.randn(5, 64), torch.randn(48)
    want = x @ w.t() + b
    got = int4.linear(x, packed, sz, b)
    assert got.dtype == torch.float32
    # bf16 activations, scales and minima: ~3 significant digits
    torch.testing.assert_close(got, want, atol=0.05 * want.abs().max().item(), rtol=0.02)


@pytest.mark.parametrize("name", ["tiny-gpt2", "tiny-llama"])
def test_decode_rows_read_the_4bit_weights_and_prompt_chunks_do_not(tiny_dir, name):
    base = _to_4bit(load_model(tiny_dir / name, "cpu"))
    m = _to_4bit(load_model(tiny_dir / name, "cpu"))
    assert load_model(tiny_dir / name, "cpu").use_int4_weights(8) == 0  # random weights: not 4-bit, left alone
    assert m.use_int4_weights(max_rows=8) == len(_linears(m)) > 0
    for x in (base, m):
        x.setup_cache(2, 64)
    ids = torch.arange(100, 120)
    with torch.no_grad():
        chunks = [x(ids, Segments([0], [0], [20])) for x in (base, m)]  # 20 rows: the full weights
        steps = [x(torch.tensor([7, 9]), Segments([0, 1], [20, 0], [1, 1])) for x in (base, m)]
    torch.testing.assert_close(chunks[1], chunks[0], atol=1e-5, rtol=1e-5)
    assert not torch.equal(steps[1], steps[0])  # the 4-bit path really ran
    # bf16 activations: within bf16's rounding (random tiny weights tie often, so no argmax check)
    assert (steps[1] - steps[0]).abs().mean() < 0.02 * steps[0].abs().mean()


@pytest.mark.skipif(not compiler_available(), reason="torch.compile on the CPU needs g++")
def test_the_compiled_decode_step_reads_them_too(tiny_dir, tmp_path):
    """Base and adapter rows, batches of 1 and 3: the graph's 4-bit matmuls
    give the eager ones' logits."""
    base = tiny_dir / "tiny-llama"
    lora = [make_adapter(base, tmp_path / "a1", 1, 4, TARGETS["llama"])]
    models = []
    for compiled in (True, False):
        m = _to_4bit(load_model(base, "cpu"))
        adapters.install(m, lora)
        m.use_packed_fp16()
        m.use_int4_weights(max_rows=64)  # eager takes them for every batch here too
        m.setup_cache(4, 64)
        if compiled:
            m.compile_decode()
            m.decode_graph.counter = EngineMetrics().compiled
            m.decode_graph.warm_up(3, 1)
        models.append(m)
    outs = []
    with torch.no_grad():
        for m in models:
            torch.manual_seed(0)
            m(torch.randint(0, 1000, (12,)), Segments([0], [0], [12]))
            m(torch.randint(0, 1000, (5,)), Segments([1], [0], [5]))
            m(torch.randint(0, 1000, (30,)), Segments([2], [0], [30]))
            outs.append([m(torch.tensor([3]), Segments([0], [12], [1])),
                         m(torch.tensor([4, 5, 6]), Segments([0, 1, 2], [13, 5, 30], [1, 1, 1]),
                           LoRARows([0, 1, 1], 1, "cpu", torch.float32))])
    for got, want in zip(*outs):
        torch.testing.assert_close(got, want, atol=3e-4, rtol=1e-4)
    assert models[0].decode_graph.counter.labels("ran")._value.get() == 2


def test_int4_weights_decision():
    cpu = torch.device("cpu")
    assert int4_weights("auto", cpu) == AVX512
    assert not int4_weights("auto", torch.device("cuda"))
    assert int4_weights("on", cpu) and not int4_weights("off", cpu)
    with pytest.raises(ValueError, match="int4_weights: on needs a CPU"):
        int4_weights("on", torch.device("cuda"))
