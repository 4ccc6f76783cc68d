"""Decode-only steps through the compiled graph (compiled.py) compute what the
eager model computes, with one graph for every batch size, adapters or not;
a step that would need a new graph runs eager instead of stalling."""
import logging
import os

import pytest
import torch

from microservices.engine import adapters, native
from microservices.engine.compiled import compiler_available
from microservices.engine.loader import compile_decode, load_model
from microservices.engine.metrics import EngineMetrics
from microservices.engine.model import LoRARows, Segments
from tests.microservices.test_adapters import TARGETS, make_adapter

pytestmark = pytest.mark.skipif(not compiler_available(), reason="torch.compile on the CPU needs g++")

SLOTS, SCRATCH = 8, 7
# The C++ ops build wherever g++ and ninja are (scripts/setup installs both);
# WRITEUP_NATIVE_OPS=0 runs this file on their Python versions.
NATIVE = not native.missing_tools() and os.environ.get("WRITEUP_NATIVE_OPS", "1") != "0"


@pytest.fixture(scope="module")
def pair(tiny_dir, tmp_path_factory):
    """Per architecture: (compiled model, eager model), the same weights, two adapters, fp16 packed weights."""
    out = {}
    for arch in ("llama", "gpt2"):
        base = tiny_dir / f"tiny-{arch}"
        tmp = tmp_path_factory.mktemp(arch)
        lora = [make_adapter(base, tmp / "a1", 1, 4, TARGETS[arch]), make_adapter(base, tmp / "a2", 2, 8, TARGETS[arch][:2])]
        models = []
        for compiled in (True, False):
            m = load_model(base, "cpu")
            adapters.install(m, lora)
            m.use_packed_fp16()
            m.setup_cache(SLOTS, 128)
            if compiled:
                m.compile_decode()
                m.decode_graph.counter = EngineMetrics().compiled
                m.decode_graph.warm_up(SCRATCH, 2)
            models.append(m)
        out[arch] = tuple(models)
    return out


def _count(model, outcome):
    return model.decode_graph.counter.labels(outcome)._value.get()


def _prefill(model, lengths):
    torch.manual_seed(0)
    prompts = [torch.randint(0, 1000, (t,)) for t in lengths]
    with torch.no_grad():
        for slot, p in enumerate(prompts):
            model(p, Segments([slot], [0], [len(p)]))
    return prompts


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("rows", [1, 2, 5, 7])
def test_decode_steps_match_eager_for_every_batch_size(pair, arch, rows):
    """Rows at different positions, mixing the base and both adapters, for
    several steps: the same logits as eager, and every step compiled."""
    compiled, eager = pair[arch]
    lengths = [3, 40, 17, 90, 2, 64, 25][:rows]
    which = [0, 1, 2, 1, 0, 2, 0][:rows]
    before = _count(compiled, "ran"), _count(compiled, "eager")
    with torch.no_grad():
        for m in (compiled, eager):
            m.out = []
            _prefill(m, lengths)
            for step in range(3):
                tokens = torch.tensor([(7 * i + step) % 1000 for i in range(rows)])
                seg = Segments(list(range(rows)), [t + step for t in lengths], [1] * rows)
                lora = LoRARows(which, 2, "cpu", torch.float32) if any(which) else None
                m.out.append(m(tokens, seg, lora))
    for got, want in zip(compiled.out, eager.out):
        # fp32 sums in another order (fused kernels, attention as two matmuls): logits reach
        # ~12 here, and differ by up to ~1e-4 with either set of ops (measured)
        torch.testing.assert_close(got, want, atol=3e-4, rtol=1e-4)
    assert (_count(compiled, "ran"), _count(compiled, "eager")) == (before[0] + 3, before[1])
    assert compiled.decode_graph.native == NATIVE


@pytest.mark.parametrize("arch", ["llama"])
def test_a_step_that_would_need_a_new_graph_runs_eager(pair, arch, caplog):
    """Inference-mode tensors fail the graph's guards: tracing again would
    stall every stream for a minute, so that step runs eager, correctly."""
    compiled, eager = pair[arch]
    results, before = [], _count(compiled, "eager")
    with caplog.at_level(logging.WARNING, logger="writeup.engine"):
        for m in (compiled, eager):
            _prefill(m, [10, 20])
            with torch.inference_mode():
                results.append(m(torch.tensor([5, 6]), Segments([0, 1], [10, 20], [1, 1])))
    torch.testing.assert_close(results[0], results[1], atol=1e-4, rtol=1e-4)
    assert _count(compiled, "eager") == before + 1
    assert "needed a new graph" in caplog.text


def test_prompt_chunks_stay_eager(pair):
    compiled, _ = pair["llama"]
    before = _count(compiled, "ran")
    with torch.no_grad():
        compiled(torch.arange(6), Segments([0, 1], [0, 0], [5, 1]))  # a prompt chunk beside a decode row
    assert _count(compiled, "ran") == before


def test_compile_decode_decision():
    assert compile_decode("auto", torch.device("cpu")) == compiler_available()
    assert not compile_decode("auto", torch.device("cuda"))  # untested there: asked for with `on`
    assert compile_decode("on", torch.device("cuda"))
    assert not compile_decode("off", torch.device("cpu"))
