"""4-bit weights for decode rows: a quarter of fp32's bytes a step reads.

A decode step at small batch streams every weight from memory once: on a
2-core VM that is ~25 GB/s, so fbgemm's fp16 weights (270 MB for SmolLM2-135M)
cost ~11 ms a step however fast the arithmetic. ATen's int4 kernel (the one
gpt-fast uses: `_weight_int4pack_mm_for_cpu`, groups of 32 inputs, each with
a scale and a minimum, bf16 activations) reads a quarter of that
(benchmarks/long_drafts.py).

4 bits lose precision, unless the weights were 4-bit to begin with: the
embedded model ships as a Q4_1 GGUF (llama.cpp's blocks of 32 weights, each
`q * d + m`), dequantized at set-up. Those weights requantize exactly, and
`int4_weights: auto` uses the 4-bit copy only for such linears (`exact`);
`on` quantizes any weights (lossy: measure it with benchmarks/half_prefill.py).
"""
from __future__ import annotations

import torch
from torch import Tensor

GROUP = 32  # inputs per scale and minimum: Q4_1's block


def quantize(w: Tensor, group: int = GROUP) -> tuple[Tensor, Tensor, Tensor]:
    """[out, in] fp weights -> (int32 codes 0..15 [out, in], scales, minima [out, in // group])."""
    o, i = w.shape
    g = w.float().reshape(o, i // group, group)
    lo, hi = g.amin(-1), g.amax(-1)
    scale = ((hi - lo) / 15).clamp(min=torch.finfo(torch.float32).tiny)
    q = ((g - lo[..., None]) / scale[..., None]).round().clamp(0, 15)
    return q.to(torch.int32).reshape(o, i), scale, lo


def dequantize(q: Tensor, scale: Tensor, lo: Tensor, group: int = GROUP) -> Tensor:
    o, i = q.shape
    return (q.reshape(o, i // group, group).float() * scale[..., None] + lo[..., None]).reshape(o, i)


def eligible(w: Tensor, group: int = GROUP) -> bool:
    """The kernel's shape rules: whole groups of inputs, outputs in eights."""
    return w.dim() == 2 and w.shape[1] % group == 0 and w.shape[0] % 8 == 0 and w.device.type == "cpu"


Codes = tuple[Tensor, Tensor, Tensor]  # what quantize returns: pass it on rather than quantize twice


def is_exact(w: Tensor, codes: Codes | None = None, group: int = GROUP) -> bool:
    """Whether `w` is already 4-bit in groups (dequantized Q4_1): requantized, nothing moves."""
    q, scale, lo = codes or quantize(w, group)
    return bool((dequantize(q, scale, lo, group) - w.float()).abs().max() <= 1e-6 * w.abs().max().clamp(min=1e-30))


def pack(w: Tensor, codes: Codes | None = None, group: int = GROUP) -> tuple[Tensor, Tensor]:
    """(packed codes, scales_and_zeros [in // group, out, 2] in bf16) for `linear`."""
    q, scale, lo = codes or quantize(w, group)
    # the kernel computes (code - 8) * scale + zero per group
    zero = lo + 8 * scale
    sz = torch.stack([scale.t(), zero.t()], -1).contiguous().to(torch.bfloat16)
    return torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1), sz


def linear(x: Tensor, packed: Tensor, sz: Tensor, bias: Tensor | None, group: int = GROUP) -> Tensor:
    """x [N, in] (any float dtype) -> [N, out] in x's dtype; bf16 activations, fp32 sums."""
    y = torch.ops.aten._weight_int4pack_mm_for_cpu(x.to(torch.bfloat16), packed, group, sz).to(x.dtype)
    return y if bias is None else y + bias
