"""service.build turns the registry's speed settings into the model it serves."""
import httpx
import pytest
import torch

from contract.registry import parse
from microservices.engine import int4, loader
from microservices.engine.model import Linear
from microservices.engine.loader import cpu_bf16_matmul, fp16_weights, half_prefill_dtype, kv_cache_dtype
from microservices.engine.compiled import compiler_available
from microservices.server.app import create_app
from microservices.server.service import HALF_MIN_ROWS, INT4_MAX_ROWS, PACKED_MAX_ROWS, build
from tests.support.tiny_models import tiny_registry_data

FBGEMM = "fbgemm" in torch.backends.quantized.supported_engines


@pytest.fixture(autouse=True)
def _threads():
    """build() leaves the calling thread on one thread; the rest of this
    pytest process keeps its own."""
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _build(tiny_dir, threads=None, prefix_cache_mb=1, **model_settings):
    data = tiny_registry_data(tiny_dir)
    data["models"]["tiny-llama"].update(model_settings)
    return build(parse(data), "tiny-llama-1", prefix_cache_mb=prefix_cache_mb, threads=threads)


def test_forwards_run_on_the_engine_thread_only_with_the_threads_asked_for(tiny_dir):
    # An OpenMP team left on the loading thread makes libgomp throttle the
    # engine thread's (a decode step 1.4x slower): loading runs on one thread.
    n = torch.get_num_threads()
    service = _build(tiny_dir)
    assert torch.get_num_threads() == 1 and service.engine.threads == n
    assert _build(tiny_dir, threads=3).engine.threads == 3


def test_fp16_weights_auto_packs_every_linear_on_x86_cpus(tiny_dir):
    model = _build(tiny_dir).engine.model
    linears = [model.output] + [m for layer in model.layers for m in (layer.attention.wqkv, layer.feed_forward.w2)]
    assert all((lin.packed is not None) == FBGEMM for lin in linears)
    assert all(lin.packed_rows == PACKED_MAX_ROWS for lin in linears if FBGEMM)


def test_fp16_weights_off_keeps_fp32_only(tiny_dir):
    model = _build(tiny_dir, fp16_weights="off").engine.model
    assert model.output.packed is None and model.layers[0].attention.wqkv.packed is None


def test_fp16_weights_decision():
    assert fp16_weights("auto", torch.device("cpu"), torch.float32) == FBGEMM
    assert not fp16_weights("auto", torch.device("cpu"), torch.bfloat16)  # already half the bytes
    assert not fp16_weights("off", torch.device("cpu"), torch.float32)
    with pytest.raises(ValueError, match="fp16_weights: on needs a CPU"):
        fp16_weights("on", torch.device("cuda"), torch.float32)


def test_bf16_prefill_copies_every_linear_and_hands_short_chunks_to_the_packed_weights(tiny_dir):
    model = _build(tiny_dir, prefill_dtype="bfloat16").engine.model
    linears = [model.output] + [m for layer in model.layers for m in (layer.attention.wqkv, layer.feed_forward.w2)]
    assert all(lin.half is not None and lin.half.dtype == torch.bfloat16 and lin.half_rows == HALF_MIN_ROWS
               for lin in linears)
    assert all(lin.packed_rows == HALF_MIN_ROWS for lin in linears if FBGEMM)  # below it, fp16 weights
    assert _build(tiny_dir).engine.model.output.half is None  # (the tiny registry asks for float32)


def test_int4_weights_auto_takes_only_4bit_weights_and_on_takes_all(tiny_dir):
    """The tiny models' weights are random, not 4-bit: auto leaves them be
    (where it is on at all), on quantizes every linear the kernel fits."""
    assert all(m.int4 is None for m in _build(tiny_dir, int4_weights="auto").engine.model.modules()
               if isinstance(m, Linear))
    assert all(m.int4 is None for m in _build(tiny_dir, int4_weights="off").engine.model.modules()
               if isinstance(m, Linear))
    model = _build(tiny_dir, int4_weights="on").engine.model
    fit = [m for m in model.modules() if isinstance(m, Linear) and int4.eligible(m.weight)]
    assert fit and all(m.int4 is not None and m.int4_rows == INT4_MAX_ROWS for m in fit)


def test_cpu_bf16_matmul_reads_the_cpu_flags():
    assert cpu_bf16_matmul("flags : fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile", "AVX512") == "amx"
    assert cpu_bf16_matmul("flags : fpu avx2 avx512f avx512_bf16", "AVX512") == "avx512_bf16"  # e.g. AMD Zen 4
    assert cpu_bf16_matmul("flags : fpu avx2 avx512f", "AVX512") is None
    assert cpu_bf16_matmul("flags : fpu avx2", "AVX2") is None
    assert cpu_bf16_matmul("flags : avx512f avx512_bf16", "AVX2") is None  # torch told to keep off AVX-512


@pytest.mark.parametrize("native", ["amx", "avx512_bf16", None])
def test_half_prefill_dtype_decision(monkeypatch, native):
    monkeypatch.setattr(loader, "cpu_bf16_matmul", lambda: native)
    cpu, fp32 = torch.device("cpu"), torch.float32
    assert half_prefill_dtype("auto", cpu, fp32) == (torch.bfloat16 if native else None)
    assert half_prefill_dtype("auto", cpu, torch.bfloat16) is None  # already half
    assert half_prefill_dtype("auto", torch.device("cuda"), fp32) == torch.bfloat16
    assert half_prefill_dtype("float32", cpu, fp32) is None
    assert half_prefill_dtype("bfloat16", cpu, fp32) == torch.bfloat16


@pytest.mark.parametrize("native", ["amx", "avx512_bf16", None])
def test_kv_cache_dtype_decision(monkeypatch, native):
    """bf16 keys and values only when asked: measured no faster, only bigger."""
    monkeypatch.setattr(loader, "cpu_bf16_matmul", lambda: native)
    cpu, fp32 = torch.device("cpu"), torch.float32
    assert kv_cache_dtype("auto", cpu, fp32) is None
    assert kv_cache_dtype("auto", torch.device("cuda"), fp32) is None
    assert kv_cache_dtype("float32", cpu, fp32) is None
    assert kv_cache_dtype("bfloat16", cpu, fp32) == torch.bfloat16
    assert kv_cache_dtype("bfloat16", cpu, torch.bfloat16) is None  # already the model's


def test_a_bf16_kv_cache_holds_twice_the_parked_drafts_in_the_same_budget(tiny_dir):
    full = _build(tiny_dir, prefix_cache_mb=4).engine
    half = _build(tiny_dir, kv_dtype="bfloat16", prefix_cache_mb=4).engine
    k = half.model.layers[0].attention.cache.k
    assert k.dtype == torch.bfloat16 and full.model.layers[0].attention.cache.k.dtype == torch.float32
    assert half.slot_bytes * 2 == full.slot_bytes
    assert half.model.slots - half.max_batch - 1 >= 2 * (full.model.slots - full.max_batch - 1) > 0


def test_compile_decode_off_by_default_in_tests_and_on_when_asked(tiny_dir):
    assert _build(tiny_dir).engine.model.decode_graph is None  # (the tiny registry turns it off)
    if compiler_available():
        graph = _build(tiny_dir, compile_decode="on").engine.model.decode_graph
        assert graph is not None and not graph.ready  # traced on the engine thread when it starts


async def test_health_says_starting_while_the_decode_step_compiles(tiny_dir):
    service = _build(tiny_dir)
    service.engine.warming = True
    app = create_app(service)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://instance") as client:
        r = await client.get("/tiny-llama/health")
    assert r.status_code == 503 and r.json()["status"] == "starting" and "Compiling" in r.json()["message"]
