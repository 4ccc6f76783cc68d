"""The decode step as one compiled graph (torch.compile, inductor's C++ backend).

A step that only decodes (one new token a row, the steady state of every
stream) runs ~120 small ops per layer-stack pass in eager PyTorch; at batch 1
on this CPU their dispatch costs about as much as the matmuls themselves.
Compiled, the norms, rotary embedding, residuals and activations fuse into a
few C++ loops and the Python between ops is gone (measured: benchmarks/
long_drafts.py). What the compiler must not see stays opaque, as custom ops
it calls like any kernel:
  * `fp16_linear`: fbgemm's prepacked fp16 matmul (its packed weights are an
    object inductor cannot take as an input);
  * `attend`: the cache write and the attention of each row over its own
    slot, whose shape depends on every row's length.
Each comes twice: in C++ (`writeup_native::`, csrc/decode_ops.cpp, built at
warm-up by native.py), which the graph calls without Python, and in Python
(`writeup::`, Linear's fbgemm call and Attention.attend), ~35 us a call more
(~150 calls a step), for when the C++ cannot be built.

Only decode-only steps take the graph: prompt chunks are matmul-bound, and
their shapes vary too much to compile. One graph serves every batch size
(the batch dimension is unbacked: no guard on it at all); a second one is
traced for batches that use LoRA adapters (taking that path for base rows
too would cost a batch-1 step 30% more, measured).
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
import types
import weakref

import torch
from torch import Tensor

log = logging.getLogger("writeup.engine")

# Modules the custom ops reach by key: a graph holds plain ints, not modules.
_MODULES: dict[int, weakref.ref] = {}
_next_key = 0
_current = threading.local()  # the Step of the forward running on this thread


def register(module) -> int:
    global _next_key
    _next_key += 1
    key = _next_key
    _MODULES[key] = weakref.ref(module)
    weakref.finalize(module, _forget, key)
    return key


def _forget(key: int) -> None:
    _MODULES.pop(key, None)
    if _native_fakes_registered:  # drop the C++ side's references (a KV cache is large)
        torch.ops.writeup_native.forget(key)


def _module(key: int):
    m = _MODULES[key]()
    if m is None:
        raise RuntimeError(f"module {key} of a compiled decode graph was freed")
    return m


# Registered with torch.library's low-level API: an op made with
# torch.library.custom_op costs more per call (profiled in a decode step:
# 58-65 us of its own against 34 us), and a step makes ~150 of these calls.
_lib = torch.library.Library("writeup", "DEF")
_lib.define("fp16_linear(Tensor x, int key) -> Tensor")
_lib.define("attend(Tensor q, Tensor k, Tensor v, int key) -> Tensor")


def _fp16_linear(x: Tensor, key: int) -> Tensor:
    return torch.ops.quantized.linear_dynamic_fp16(x, _module(key).packed)


def _attend(q: Tensor, k: Tensor, v: Tensor, key: int) -> Tensor:
    # Writes the layer's KV cache, which no other op of the graph reads.
    return _module(key).attend(q, k, v, _current.step)


for _key in ("CPU", "CUDA"):
    _lib.impl("fp16_linear", _fp16_linear, _key)
    _lib.impl("attend", _attend, _key)


@torch.library.register_fake("writeup::fp16_linear", lib=_lib)
def _(x: Tensor, key: int) -> Tensor:
    return x.new_empty(x.shape[0], _module(key).out_features)


@torch.library.register_fake("writeup::attend", lib=_lib)
def _(q: Tensor, k: Tensor, v: Tensor, key: int) -> Tensor:
    return q.new_empty(q.shape[0], q.shape[1] * q.shape[2])


_native_fakes_registered = False


def _register_native_fakes() -> None:
    """Shapes for tracing the C++ ops (native.py loaded them)."""
    global _native_fakes_registered
    if _native_fakes_registered:
        return

    @torch.library.register_fake("writeup_native::fp16_linear")
    def _(x: Tensor, key: int) -> Tensor:
        return x.new_empty(x.shape[0], _module(key).out_features)

    @torch.library.register_fake("writeup_native::decode_attend")
    def _(q: Tensor, k: Tensor, v: Tensor, slots: Tensor, pos: Tensor, share: Tensor, key: int) -> Tensor:
        return q.new_empty(q.shape[0], q.shape[1] * q.shape[2])
    _native_fakes_registered = True


class DenseLoRA:
    """LoRARows for the graph: every row through the masked all-adapters
    path (no per-step Python choice of a single adapter's slice)."""
    single = None

    def __init__(self, onehot: Tensor):
        self.onehot = onehot

    def mask(self, width: int) -> Tensor:
        return self.onehot.repeat_interleave(width, -1)


def compiler_available() -> bool:
    """inductor's CPU backend writes C++ and builds it with the system compiler."""
    return shutil.which("g++") is not None or shutil.which("c++") is not None


class DecodeGraph:
    """Decode-only forwards of `model` through one compiled graph."""

    def __init__(self, model):
        from .model import Attention, Linear

        self.model = model
        for m in model.modules():
            if isinstance(m, (Linear, Attention)):
                m.graph_key = register(m)
            if isinstance(m, Linear):
                m.graph_linear = torch.ops.writeup.fp16_linear
        self.native = False  # the C++ ops (decided at warm-up, before tracing)
        self.rope_shape: tuple | None = None  # the rope table the graph was traced for
        self.stale = False  # the model changed under the graph: eager only
        # No guards on the model's modules and parameters: checking them cost
        # ~2.5 ms a step (measured, batch 1), and nothing changes them after
        # warm-up but setup_cache, which bind() below checks for.
        # Which in turn needs a code object of its own per model: dynamo keeps
        # graphs by code object, and would hand another model's graph over.
        forward = types.FunctionType(DecodeGraph._forward.__code__.replace(), globals(), "decode_step")
        self.fn = torch.compile(types.MethodType(forward, self), dynamic=True, fullgraph=True,
                                options={"guard_filter_fn": torch.compiler.skip_guard_on_all_nn_modules_unsafe})
        self.ready = False  # warmed up: from then on, a step that would trace again runs eager instead
        self.counter = None  # a Prometheus counter by outcome (EngineMetrics.compiled), set by the engine
        self.refused = 0  # steps left to eager because they would have needed a new graph

    def bind(self) -> None:
        """Hand the C++ ops what they read: the packed weights and the caches
        (again whenever Transformer.setup_cache makes new ones)."""
        from .model import Attention, Linear

        rope = self.model.rope_cache
        if self.ready and rope is not None and tuple(rope.shape) != self.rope_shape:
            # the graph's kernels were built for the old context (and guard
            # nothing on the model): decode eagerly from now on
            log.warning("the context changed after the decode step was compiled; decoding eagerly")
            self.ready, self.stale = False, True
        if not self.native:
            return
        for m in self.model.modules():
            if isinstance(m, Linear) and m.packed is not None:
                torch.ops.writeup_native.set_linear(m.graph_key, m.packed)
            elif isinstance(m, Attention) and m.cache is not None:
                torch.ops.writeup_native.set_cache(m.graph_key, m.cache.k, m.cache.v)

    def _forward(self, tokens: Tensor, pos: Tensor, slots: Tensor, share: Tensor, onehot: Tensor | None) -> Tensor:
        m = self.model
        lora = DenseLoRA(onehot) if onehot is not None else None
        x = m.tok_embeddings(tokens)
        rope = None
        if m.pos_embeddings is not None:
            x = x + m.pos_embeddings(pos)
        else:
            rope = m.rope_cache[pos]
        for layer in m.layers:
            at = layer.attention
            q, k, v = at.project(layer.attention_norm(x), rope, lora)
            if self.native:
                y = torch.ops.writeup_native.decode_attend(q, k, v, slots, pos, share, at.graph_key)
            else:
                y = torch.ops.writeup.attend(q, k, v, at.graph_key)
            x = x + at.wo(y, lora)
            x = x + layer.feed_forward(layer.ffn_norm(x), lora)
        return m.output(m.norm(x))

    def __call__(self, tokens: Tensor, step, onehot: Tensor | None) -> Tensor | None:
        """Logits of every row, or None when this step would need a new
        graph (the caller runs it eager: tracing takes a minute, and a
        running stream must never stall for that)."""
        if self.stale:
            self._count("eager")
            return None
        pos = step.pos
        _current.step = step
        try:
            if not self.ready:
                # One graph for every batch size: the batch dimension is
                # traced as unbacked (no guard on its value, not even 0 or
                # 1, which are otherwise specialized), and tied to nothing
                # else (such as the rope table's last dimension, also 2).
                for t in (tokens, pos, step.slot, step.share) if onehot is None else (tokens, pos, step.slot, step.share, onehot):
                    torch._dynamo.decorators.mark_unbacked(t, 0)
                if self.model.rope_cache is not None:
                    torch._dynamo.mark_static(self.model.rope_cache)
                if onehot is not None:
                    torch._dynamo.mark_static(onehot, 1)
                return self.fn(tokens, pos, step.slot, step.share, onehot)
            with torch.compiler.set_stance("fail_on_recompile"):
                logits = self.fn(tokens, pos, step.slot, step.share, onehot)
            self._count("ran")
            return logits
        except (torch._dynamo.exc.RecompileError, RuntimeError) as e:
            if not isinstance(e, torch._dynamo.exc.RecompileError) and "Detected recompile" not in str(e):
                raise
            if not self.refused:  # once: the counter has the rest
                log.warning("a decode step needed a new graph (%d rows, adapters: %s); ran it eager "
                            "(so will any other such step; writeup_compiled_decode_steps_total counts them): %s",
                            len(tokens), onehot is not None, str(e).splitlines()[-1][:300])
            self.refused += 1
            self._count("eager")
            return None
        finally:
            _current.step = None

    def _count(self, outcome: str) -> None:
        if self.counter is not None:
            self.counter.labels(outcome).inc()

    def warm_up(self, slot: int, n_adapters: int) -> float:
        """Compile before serving, on `slot` (scratch): seconds spent. Call
        it on the thread that runs the steps, with its thread count set
        (traced on another, a batch-1 step measured no faster than eager)."""
        from . import native

        t0 = time.perf_counter()
        dev = self.model.output.weight.device
        self.native = dev.type == "cpu" and native.load()
        if self.model.rope_cache is not None:
            self.rope_shape = tuple(self.model.rope_cache.shape)
        if self.native:
            _register_native_fakes()
            self.bind()
            for m in self.model.modules():
                if getattr(m, "graph_linear", None) is not None:
                    m.graph_linear = torch.ops.writeup_native.fp16_linear
        with torch.no_grad():  # as the engine thread runs (not inference mode: its tensors differ)
            self._warm_up(slot, n_adapters, dev)
        self.ready = True
        return time.perf_counter() - t0

    def _warm_up(self, slot: int, n_adapters: int, dev) -> None:
        from .model import LoRARows, Segments

        dtype = self.model.output.weight.dtype
        for lora in (False, True) if n_adapters else (False,):
            for rows in (1, 3):  # (the second size finds a graph that would not serve every batch)
                seg = Segments([slot] * rows, list(range(rows)), [1] * rows, dev)
                # (a batch of base rows with adapters installed: the LoRA graph, all masks zero)
                adapters = LoRARows([0] * rows, n_adapters, dev, dtype) if lora else None
                self.model(torch.zeros(rows, dtype=torch.long, device=dev), seg, adapters)
