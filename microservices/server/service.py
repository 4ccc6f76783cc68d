"""Build the engine for one registry instance: load its base model once,
attach the LoRA adapters of its genre routes, and remember each route's limits."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from contract.registry import Limits, Model, Registry

from .. import weights
from ..engine import adapters
from ..engine.engine import Engine
from ..engine.loader import (compile_decode, fp16_weights, half_prefill_dtype, int4_weights, kv_cache_dtype, load_model,
                             load_tokenizer)
from ..engine.metrics import EngineMetrics
from ..engine.model import Transformer

# Rows from which a matmul is a prompt chunk's (bf16 where that pays), and below
# which fbgemm's fp16 weights beat fp32 on this CPU: benchmarks/half_prefill.py.
HALF_MIN_ROWS, PACKED_MAX_ROWS = 64, 256
# Below this many rows, int4 weights beat fbgemm's fp16 (measured: parity at 16)
INT4_MAX_ROWS = 16

log = logging.getLogger("writeup.service")


@dataclass
class Service:
    instance_id: str
    engine: Engine
    models: dict[str, Model]  # route -> registry entry

    def limits_for(self, route: str) -> Limits | None:
        m = self.models.get(route)
        return m.limits if m else None


def speed_up(model: Transformer, settings: Model, log_as: str = "") -> None:
    """The registry's speed settings (prefill_dtype, fp16_weights,
    int4_weights, kv_dtype, compile_decode), each resolved for this device:
    copies of the weights for the matmuls that pay, the KV cache's dtype
    (before an Engine sizes the cache), and the compiled decode step (traced
    on the engine thread when it starts). benchmarks/ set models up here too,
    so what they measure is what serves."""
    device, dtype = model.output.weight.device, model.output.weight.dtype
    half = half_prefill_dtype(settings.prefill_dtype, device, dtype)
    if half is not None:
        model.use_half_prefill(half, min_rows=HALF_MIN_ROWS)
    if fp16_weights(settings.fp16_weights, device, dtype):
        model.use_packed_fp16(max_rows=HALF_MIN_ROWS if half is not None else PACKED_MAX_ROWS)
    if int4_weights(settings.int4_weights, device):
        n = model.use_int4_weights(max_rows=INT4_MAX_ROWS, exact_only=settings.int4_weights == "auto")
        log.info("instance %s: %d linears decode with 4-bit weights", log_as, n)
    model.use_kv_dtype(kv_cache_dtype(settings.kv_dtype, device, dtype))
    if compile_decode(settings.compile_decode, device):
        model.compile_decode()


def build(reg: Registry, instance_id: str, *, prefix_cache_mb: float = 512, threads: int | None = None) -> Service:
    inst = reg.instance(instance_id)
    base = reg.base_of(inst.routes[0])
    folder = weights.model_dir(base)  # WeightsUnavailable with a clear message
    threads = threads or torch.get_num_threads()
    # This thread loads on one thread; the engine thread runs every forward on
    # `threads`. An OpenMP team left behind here would make libgomp throttle
    # the engine's (measured: a decode step 1.4x slower with fp16 weights).
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    model = load_model(folder, base.device, base.dtype)
    tok = load_tokenizer(folder)
    routes = [reg.models[r] for r in inst.routes]
    merged = [m for m in routes if m.adapter and m.adapter.merge]
    if merged:
        if len(routes) != 1:
            raise adapters.AdapterError(f"instance {inst.id!r}: a merged adapter route must be the instance's only route")
        adapters.merge(model, merged[0].resolve(merged[0].adapter.path))
        index = {merged[0].route: 0}
    else:
        lora = [m for m in routes if m.adapter]
        adapters.install(model, [m.resolve(m.adapter.path) for m in lora])
        index = {m.route: 0 for m in routes if not m.adapter}
        index.update({m.route: i + 1 for i, m in enumerate(lora)})
    speed_up(model, base, log_as=inst.id)  # after any merge: it copies the (merged) weights
    lim = base.limits
    engine = Engine(model, tok, routes=index, n_adapters=max(index.values()), max_batch=lim.max_batch,
                    max_queue=lim.max_queue, context=lim.context, window_step=lim.window_step,
                    reserve_tokens=lim.max_new_tokens, prefix_cache_mb=prefix_cache_mb,
                    writer_max_seqs=lim.writer_max_seqs, writer_max_queue=lim.writer_max_queue,
                    metrics=EngineMetrics(), threads=threads)
    log.info("instance %s: %s loaded on %s in %.1f s, routes %s", inst.id, base.route,
             engine.device, time.perf_counter() - t0, ", ".join(index))
    return Service(inst.id, engine, {m.route: m for m in routes})
