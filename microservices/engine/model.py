"""A decoder-only transformer for serving: Llama-family and GPT-2 layouts.

In the spirit of gpt-fast: plain modules, plain tensors. What serving needs and
a training model does not:
  * a slot-based KV cache allocated once (`setup_cache`); each row of a
    batch reads and writes its own slot at its own positions;
  * packed batches (`Segments`): rows of any lengths (a 2,000-token prefill
    chunk beside one-token decode rows) share every matmul with no padding;
    what every layer needs of them travels as one `Step`;
  * batched multi-LoRA: each row names an adapter (0 = none) and the low-rank
    deltas of every loaded adapter are applied in one pass (see LoRABank);
  * decode-only steps can run as one compiled graph (compile_decode,
    compiled.py) that reuses these modules' code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from . import int4


@dataclass
class ModelArgs:
    arch: str  # "llama" | "gpt2"
    vocab_size: int
    n_layer: int
    n_head: int
    n_kv_head: int
    dim: int
    intermediate: int
    head_dim: int
    norm_eps: float = 1e-5
    rope_base: float = 10000.0
    max_pos: int = 2048
    tie_embeddings: bool = True

    @classmethod
    def from_hf(cls, cfg: dict) -> "ModelArgs":
        mt = cfg.get("model_type")
        if mt == "gpt2":
            d = cfg["n_embd"]
            return cls(arch="gpt2", vocab_size=cfg["vocab_size"], n_layer=cfg["n_layer"], n_head=cfg["n_head"],
                       n_kv_head=cfg["n_head"], dim=d, intermediate=cfg.get("n_inner") or 4 * d,
                       head_dim=d // cfg["n_head"], norm_eps=cfg.get("layer_norm_epsilon", 1e-5),
                       max_pos=cfg["n_positions"], tie_embeddings=True)
        if mt in ("llama", "mistral", "qwen2"):
            d, h = cfg["hidden_size"], cfg["num_attention_heads"]
            rope = cfg.get("rope_parameters") or {}
            if rope.get("rope_type", "default") != "default" or cfg.get("rope_scaling"):
                raise ValueError(f"rope scaling {rope.get('rope_type')!r} is not supported")
            return cls(arch="llama", vocab_size=cfg["vocab_size"], n_layer=cfg["num_hidden_layers"], n_head=h,
                       n_kv_head=cfg.get("num_key_value_heads", h), dim=d, intermediate=cfg["intermediate_size"],
                       head_dim=cfg.get("head_dim") or d // h, norm_eps=cfg.get("rms_norm_eps", 1e-5),
                       rope_base=rope.get("rope_theta", cfg.get("rope_theta", 10000.0)),
                       max_pos=cfg.get("max_position_embeddings", 2048),
                       tie_embeddings=cfg.get("tie_word_embeddings", False))
        raise ValueError(f"model_type {mt!r} is not supported (llama, mistral, qwen2, gpt2 are)")


class KVCache(nn.Module):
    """One layer's keys and values: [slots, kv_heads, max_seq, head_dim].
    A slot holds one sequence; the engine decides which (see slots.py)."""

    def __init__(self, slots: int, n_kv_head: int, max_seq: int, head_dim: int, dtype: torch.dtype):
        super().__init__()
        shape = (slots, n_kv_head, max_seq, head_dim)
        # Not zeroed: attention only reads positions a slot's sequence wrote,
        # and untouched pages of a large cache cost no memory until used.
        self.register_buffer("k", torch.empty(shape, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.empty(shape, dtype=dtype), persistent=False)

    def update(self, slot: Tensor, pos: Tensor, k: Tensor, v: Tensor) -> None:
        # slot, pos [N]: where each packed token goes; k, v [N, kv_heads, head_dim]
        # (rounded when the cache is kept in half precision: Transformer.kv_dtype)
        self.k[slot, :, pos] = k.to(self.k.dtype)
        self.v[slot, :, pos] = v.to(self.v.dtype)

    def copy_range(self, src: int, dst: int, start: int, end: int) -> None:
        self.k[dst, :, start:end] = self.k[src, :, start:end]
        self.v[dst, :, start:end] = self.v[src, :, start:end]


BATCHED_MIN_ROWS, BATCHED_MAX_SPAN = 4, 384  # measured: benchmarks/long_drafts.py, short drafts


@dataclass
class Segments:
    """A packed batch: each row is `t` new tokens of the sequence in cache
    slot `slot`, starting at position `start`. Rows of any lengths share one
    forward with no padding; only attention runs per row, over a view of the
    row's own slot (no gather, no copy), except many short decode rows,
    which attend together over their gathered keys."""
    slots: list[int]
    starts: list[int]
    lengths: list[int]
    device: torch.device | str = "cpu"
    # Per row, None or (parent slot, P): a decode row whose keys and values
    # at positions 0..P-1 are in the parent's slot (the prompt its sibling
    # alternatives share) and only from P on in its own (see attend_siblings).
    shares: list[tuple[int, int] | None] | None = None

    def __post_init__(self):
        self.offsets = [0]
        for t in self.lengths:
            self.offsets.append(self.offsets[-1] + t)
        if self.shares is None:
            self.shares = [None] * len(self.slots)
        # Queries of a row may see keys up to their own position; one mask per
        # multi-token row, shared by every layer.
        self.masks = [None if t == 1 else attention_mask(torch.tensor([s], device=self.device), t, s + t)[0, 0]
                      for s, t in zip(self.starts, self.lengths)]
        # Siblings attend together: adjacent rows with the same share and
        # position read their common prefix once (first row -> row count).
        self.groups: dict[int, int] = {}
        i = 0
        while i < len(self.slots):
            j = i + 1
            if self.shares[i] is not None:
                while j < len(self.slots) and self.shares[j] == self.shares[i] and self.starts[j] == self.starts[i]:
                    j += 1
                self.groups[i] = j - i
            i = j
        self.group_slots = {i: torch.tensor(self.slots[i:i + m], device=self.device) for i, m in self.groups.items()}
        # Many short decode rows (the leading one-token rows) attend together:
        # gathering their few keys costs less than one call per row.
        k = next((i for i, (t, sh) in enumerate(zip(self.lengths, self.shares)) if t != 1 or sh is not None),
                 len(self.lengths))
        span = max(self.starts[:k], default=0) + 1
        self.batched = k if k >= BATCHED_MIN_ROWS and span <= BATCHED_MAX_SPAN else 0
        if self.batched:
            self.batched_slots = torch.tensor(self.slots[:k], device=self.device)
            ends = torch.tensor(self.starts[:k], device=self.device) + 1
            self.batched_mask = (torch.arange(span, device=self.device)[None, :] < ends[:, None])[:, None, None, :]
            self.batched_pad = ~self.batched_mask[:, :, 0, :, None]  # [rows, 1, span, 1]

    @property
    def decode_only(self) -> bool:
        return all(t == 1 for t in self.lengths)

    @property
    def n_tokens(self) -> int:
        return self.offsets[-1]

    def positions(self) -> Tensor:
        if self.decode_only:  # (one tensor, not one per row: the steady state's hot path)
            return torch.tensor(self.starts)
        return torch.cat([torch.arange(s, s + t) for s, t in zip(self.starts, self.lengths)])

    def share_table(self) -> Tensor:
        """[rows, 2] int64: each row's (parent slot, P), (0, 0) for none."""
        return torch.tensor([sh or (0, 0) for sh in self.shares], dtype=torch.long).view(-1, 2)

    def token_slots(self) -> Tensor:
        if self.decode_only:
            return torch.tensor(self.slots)
        return torch.cat([torch.full((t,), s) for s, t in zip(self.slots, self.lengths)])

    def last_tokens(self) -> Tensor:
        return torch.tensor(self.offsets[1:]) - 1


@dataclass
class Step:
    """What every layer of one forward shares: the packed rows, where each
    token's key and value go in the cache, its rotary angles, its adapter."""
    seg: Segments
    slot: Tensor  # [N] cache slot of each packed token
    pos: Tensor  # [N] its position
    rope: Tensor | None  # [N, head_dim // 2, 2]; None for learned positions
    lora: LoRARows | None
    share: Tensor | None = None  # [rows, 2] Segments.share_table(), for the compiled graph's C++ attention


class LoRABank(nn.Module):
    """The LoRA deltas of every loaded adapter for one (possibly fused) linear.

    A is [in, n_adapters * w] and B is [n_adapters * w, out], scaling folded
    in; for a fused projection each adapter's block of B is block-diagonal
    over the fused parts. A batch that mixes adapters costs three ops per
    linear, however many adapters it mixes: x @ A for all of them, a mask
    that keeps each row's own adapter's columns, @ B."""

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.rank = 0  # columns per adapter (w)
        self.A: Tensor | None = None
        self.B: Tensor | None = None

    def apply_(self, y: Tensor, x: Tensor, lora: "LoRARows") -> Tensor:
        if lora.single is not None:  # every row uses one adapter: its slice only
            a, w = lora.single, self.rank
            return y + (x @ self.A[:, a * w:(a + 1) * w]) @ self.B[a * w:(a + 1) * w]
        return y + ((x @ self.A) * lora.mask(self.rank)) @ self.B


class LoRARows:
    """Which LoRA adapter each packed token uses (0 = none)."""

    def __init__(self, adapters: list[int], n_adapters: int, device, dtype):
        first = adapters[0]
        self.single = first - 1 if first and all(a == first for a in adapters) else None
        self.onehot = torch.zeros(len(adapters), n_adapters, device=device, dtype=dtype)
        for row, a in enumerate(adapters):
            if a:
                self.onehot[row, a - 1] = 1
        self._masks: dict[int, Tensor] = {}

    def mask(self, width: int) -> Tensor:
        # built once per step for each bank width, shared by every layer
        m = self._masks.get(width)
        if m is None:
            m = self._masks[width] = self.onehot.repeat_interleave(width, -1)
        return m


class Linear(nn.Linear):
    def __init__(self, i: int, o: int, bias: bool):
        super().__init__(i, o, bias=bias)
        self.lora = LoRABank(i, o)
        self.half: Tensor | None = None  # a bf16 copy for many-row (prefill) matmuls, see use_half_prefill
        self.half_rows = 0
        self.packed = None  # fp16 weights prepacked for fbgemm, see use_packed_fp16
        self.packed_rows = 0
        self.int4: tuple[Tensor, Tensor] | None = None  # 4-bit weights for decode rows, see use_int4_weights
        self.int4_rows = 0
        self.graph_key = 0  # how a compiled decode graph names this module (compiled.py)
        self.graph_linear = None  # the fp16 matmul op the graph calls (compiled.py)

    def forward(self, x: Tensor, lora: LoRARows | None = None) -> Tensor:
        if torch.compiler.is_compiling():  # a decode step's few rows (compiled.py): no choice on their number
            if self.int4 is not None:
                y = int4.linear(x, *self.int4, self.bias)
            elif self.packed is not None:  # opaque to the compiler: see compiled.py
                y = self.graph_linear(x, self.graph_key)
            else:
                y = F.linear(x, self.weight, self.bias)
        elif self.int4 is not None and x.shape[0] < self.int4_rows:
            y = int4.linear(x, *self.int4, self.bias)
        elif self.packed is not None and x.shape[0] < self.packed_rows:
            y = torch.ops.quantized.linear_dynamic_fp16(x, self.packed)
        elif self.half is not None and x.shape[0] >= self.half_rows:
            y = F.linear(x.to(self.half.dtype), self.half).to(x.dtype)
            if self.bias is not None:
                y = y + self.bias
        else:
            y = F.linear(x, self.weight, self.bias)
        if lora is not None and self.lora.A is not None:
            y = self.lora.apply_(y, x, lora)
        return y


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


class Attention(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.a = a
        bias = a.arch == "gpt2"
        self.wqkv = Linear(a.dim, (a.n_head + 2 * a.n_kv_head) * a.head_dim, bias)
        self.wo = Linear(a.n_head * a.head_dim, a.dim, bias)
        self.cache: KVCache | None = None
        self.graph_key = 0

    def forward(self, x: Tensor, step: Step) -> Tensor:
        q, k, v = self.project(x, step.rope, step.lora)
        return self.wo(self.attend(q, k, v, step), step.lora)

    def project(self, x: Tensor, rope: Tensor | None, lora: LoRARows | None) -> tuple[Tensor, Tensor, Tensor]:
        """Queries [N, heads, head_dim], keys and values [N, kv_heads, head_dim], rotated."""
        a, n = self.a, x.shape[0]
        q, k, v = self.wqkv(x, lora).split([a.n_head * a.head_dim, a.n_kv_head * a.head_dim, a.n_kv_head * a.head_dim], -1)
        q = q.view(n, a.n_head, a.head_dim)
        k = k.view(n, a.n_kv_head, a.head_dim)
        v = v.view(n, a.n_kv_head, a.head_dim)
        if rope is not None:
            q, k = apply_rope(q, rope), apply_rope(k, rope)
        return q, k, v

    def attend(self, q: Tensor, k: Tensor, v: Tensor, step: Step) -> Tensor:
        """Write the new keys and values into the cache, attend each row over
        its own slot: [N, heads * head_dim]."""
        a, seg = self.a, step.seg
        n, dtype = q.shape[0], q.dtype
        self.cache.update(step.slot, step.pos, k, v)
        # A half-precision cache (Transformer.use_kv_dtype) is read back in the
        # model's dtype: attention itself runs as with a full one, so rounding
        # is the only change, and every path computes the same thing.
        q = q.transpose(0, 1)  # [heads, N, head_dim]
        gqa = a.n_kv_head != a.n_head
        out = []
        b = seg.batched
        if b:
            span = seg.batched_mask.shape[-1]
            keys = self.cache.k[seg.batched_slots, :, :span].to(dtype)
            vals = self.cache.v[seg.batched_slots, :, :span].to(dtype)
            # Past a row's end the cache holds whatever was there (it is never
            # zeroed): masked scores still multiply those values, so clear them.
            keys.masked_fill_(seg.batched_pad, 0)
            vals.masked_fill_(seg.batched_pad, 0)
            out.append(F.scaled_dot_product_attention(q[:, :b, None].transpose(0, 1), keys, vals,
                                                      attn_mask=seg.batched_mask, enable_gqa=gqa)[:, :, 0].transpose(0, 1))
        i = b
        while i < len(seg.slots):
            slot, start, t, off, mask = seg.slots[i], seg.starts[i], seg.lengths[i], seg.offsets[i], seg.masks[i]
            end = start + t
            m = seg.groups.get(i)
            if m:  # sibling decode rows: one token each, at offsets off .. off + m - 1
                parent, shared = seg.shares[i]
                out.append(attend_siblings(q[:, off:off + m].transpose(0, 1), self.cache.k, self.cache.v,
                                           seg.group_slots[i], parent, shared, end, dtype).transpose(0, 1))
                i += m
                continue
            out.append(F.scaled_dot_product_attention(
                q[None, :, off:off + t], self.cache.k[slot:slot + 1, :, :end].to(dtype),
                self.cache.v[slot:slot + 1, :, :end].to(dtype), attn_mask=mask, enable_gqa=gqa)[0])
            i += 1
        y = out[0] if len(out) == 1 else torch.cat(out, 1)
        return y.transpose(0, 1).reshape(n, a.n_head * a.head_dim)


class FeedForward(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.arch = a.arch
        if a.arch == "gpt2":
            self.w1 = Linear(a.dim, a.intermediate, True)
            self.w2 = Linear(a.intermediate, a.dim, True)
        else:  # gate and up projections fused into one matrix
            self.w13 = Linear(a.dim, 2 * a.intermediate, False)
            self.w2 = Linear(a.intermediate, a.dim, False)

    def forward(self, x: Tensor, lora: LoRARows | None) -> Tensor:
        if self.arch == "gpt2":
            return self.w2(F.gelu(self.w1(x, lora), approximate="tanh"), lora)
        gate, up = self.w13(x, lora).chunk(2, -1)
        return self.w2(F.silu(gate) * up, lora)


class TransformerBlock(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        norm = (lambda: nn.LayerNorm(a.dim, eps=a.norm_eps)) if a.arch == "gpt2" else (lambda: RMSNorm(a.dim, a.norm_eps))
        self.attention_norm, self.ffn_norm = norm(), norm()
        self.attention = Attention(a)
        self.feed_forward = FeedForward(a)

    def forward(self, x: Tensor, step: Step) -> Tensor:
        h = x + self.attention(self.attention_norm(x), step)
        return h + self.feed_forward(self.ffn_norm(h), step.lora)


class Transformer(nn.Module):
    def __init__(self, a: ModelArgs):
        super().__init__()
        self.args = a
        self.tok_embeddings = nn.Embedding(a.vocab_size, a.dim)
        self.pos_embeddings = nn.Embedding(a.max_pos, a.dim) if a.arch == "gpt2" else None
        self.layers = nn.ModuleList(TransformerBlock(a) for _ in range(a.n_layer))
        self.norm = nn.LayerNorm(a.dim, eps=a.norm_eps) if a.arch == "gpt2" else RMSNorm(a.dim, a.norm_eps)
        self.output = Linear(a.dim, a.vocab_size, False)
        self.rope_cache: Tensor | None = None
        self.max_seq = 0
        self.slots = 0
        self.kv_dtype: torch.dtype | None = None  # the KV cache's dtype (None: the model's), see use_kv_dtype
        self.decode_graph = None  # see compile_decode

    def compile_decode(self) -> None:
        """Decode-only forwards run one compiled graph (compiled.py): the
        steady state of every stream, where eager dispatch costs most. Call
        after use_packed_fp16 / adapters are in place, and warm it up."""
        from .compiled import DecodeGraph

        self.decode_graph = DecodeGraph(self)

    @property
    def cache_dtype(self) -> torch.dtype:
        """What setup_cache allocates keys and values in."""
        return self.kv_dtype or self.output.weight.dtype

    def use_kv_dtype(self, dtype: torch.dtype | None) -> None:
        """Keep keys and values in `dtype` (bf16: half of fp32's bytes) from
        the next setup_cache on. A long draft's decode step reads its whole KV
        (1,900 tokens: 87 MB in fp32), and the prefix cache's budget holds
        twice the text. Attention reads it back in the model's dtype."""
        self.kv_dtype = dtype

    def use_half_prefill(self, dtype: torch.dtype = torch.bfloat16, min_rows: int = 64) -> None:
        """Matmuls over at least `min_rows` tokens (prompt chunks) run in
        `dtype` against a copy of the weights made once here; decode rows,
        the KV cache and everything else stay in the model's dtype. Pays on
        CPUs with AMX (bf16 tiles) and on GPUs; costs half the weights again
        in memory."""
        for m in self.modules():
            if isinstance(m, Linear):
                m.half, m.half_rows = m.weight.detach().to(dtype), min_rows

    def use_packed_fp16(self, max_rows: int = 1 << 30) -> None:
        """Matmuls over fewer than `max_rows` tokens read fp16 copies of the
        weights, prepacked once here for fbgemm's fp16 kernels (x86 AVX2 and
        up): activations and accumulation stay fp32, so outputs move by about
        2e-4 relative, while a decode step reads half the weight bytes from
        memory. Costs half the weights again in memory."""
        for m in self.modules():
            if isinstance(m, Linear):
                m.packed = torch.ops.quantized.linear_prepack_fp16(m.weight.detach().float(), None if m.bias is None else m.bias.detach().float())
                m.packed_rows = max_rows

    def use_int4_weights(self, max_rows: int, exact_only: bool = True) -> int:
        """Matmuls over fewer than `max_rows` tokens (decode rows; in the
        compiled decode graph, every batch) read 4-bit copies of the weights
        (int4.py), made here for every linear whose weights are already 4-bit
        (exact_only) or for all that fit the kernel; returns how many.
        Activations round to bf16 on the way in, sums stay fp32."""
        n = 0
        for m in self.modules():
            if isinstance(m, Linear) and int4.eligible(m.weight):
                w = m.weight.detach()
                codes = int4.quantize(w)
                if not exact_only or int4.is_exact(w, codes):
                    m.int4, m.int4_rows = int4.pack(w, codes), max_rows
                    n += 1
        return n

    def setup_cache(self, slots: int, max_seq: int) -> None:
        a = self.args
        if a.arch == "gpt2":
            max_seq = min(max_seq, a.max_pos)
        self.slots, self.max_seq = slots, max_seq
        dtype = self.cache_dtype
        device = self.output.weight.device
        for layer in self.layers:
            layer.attention.cache = KVCache(slots, a.n_kv_head, max_seq, a.head_dim, dtype).to(device)
        if a.arch == "llama":
            self.rope_cache = rope_table(max_seq, a.head_dim, a.rope_base).to(device)
        if self.decode_graph is not None:
            self.decode_graph.bind()  # its C++ ops write the new caches

    def forward(self, tokens: Tensor, seg: Segments, lora: LoRARows | None = None,
                logits_at: Tensor | None = None) -> Tensor:
        """tokens [N]: the packed new tokens of every row of `seg`; lora:
        which adapter each token uses, or None (base model only); logits_at:
        indices into N whose logits are wanted (None: all). Returns [len(logits_at) or N, V]."""
        device = tokens.device
        pos = seg.positions().to(device)
        if self.decode_graph is not None and seg.decode_only and (logits_at is None or len(logits_at) == len(pos)):
            step = Step(seg, seg.token_slots().to(device), pos, None, None, seg.share_table())  # what the graph's attention reads
            logits = self.decode_graph(tokens, step, lora.onehot if lora is not None else None)
            if logits is not None:
                return logits
        x = self.tok_embeddings(tokens)
        rope = None
        if self.pos_embeddings is not None:
            x = x + self.pos_embeddings(pos)
        else:
            rope = self.rope_cache[pos]  # [N, head_dim // 2, 2]
        step = Step(seg, seg.token_slots().to(device), pos, rope, lora)
        for layer in self.layers:
            x = layer(x, step)
        if logits_at is not None:
            x = x[logits_at.to(device)]
        return self.output(self.norm(x))


def attention_lse(q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Attention [B, H, L, D] and its log-sum-exp [B, H, L] (natural log of
    each query's softmax denominator), no mask: CPU's flash kernel returns
    both; elsewhere, plainly."""
    if q.device.type == "cpu":
        out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)[:2]
        return out, lse
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    return s.softmax(-1) @ v, s.logsumexp(-1)


def attend_siblings(q: Tensor, ck: Tensor, cv: Tensor, slots: Tensor, parent: int, shared: int, end: int,
                    dtype: torch.dtype) -> Tensor:
    """One decode query each of m sibling rows (a request's alternatives:
    q [m, heads, head_dim], all at position end - 1) whose keys and values
    at positions 0..shared-1 are in slot `parent` and from there on in
    their own `slots` [m]: the common prefix is read once for all of them
    (a long draft's 2,000 tokens, not 3 x 2,000), the own keys per row, and
    the two softmaxes merged by their log-sum-exps. -> [m, heads, head_dim].
    csrc/decode_ops.cpp's attend_siblings runs the same ops in the same order."""
    m, heads, d = q.shape
    kvh = ck.shape[1]
    g = heads // kvh
    qv = q.contiguous().view(m, kvh, g, d)
    qp = qv.transpose(0, 1).reshape(1, kvh, m * g, d)  # a kv head's queries of every sibling together
    o_p, lse_p = attention_lse(qp, ck[parent:parent + 1, :, :shared].to(dtype), cv[parent:parent + 1, :, :shared].to(dtype))
    ks = ck[:, :, shared:end].index_select(0, slots).to(dtype)  # [m, kvh, end - shared, d]: a few tokens each
    vs = cv[:, :, shared:end].index_select(0, slots).to(dtype)
    o_s, lse_s = attention_lse(qv, ks, vs)
    lse_p = lse_p.reshape(kvh, m, g).transpose(0, 1)
    o_p = o_p.reshape(kvh, m, g, d).transpose(0, 1)
    top = torch.maximum(lse_p, lse_s)
    wp = (lse_p - top).exp().unsqueeze(-1)
    ws = (lse_s - top).exp().unsqueeze(-1)
    return ((o_p * wp + o_s * ws) / (wp + ws)).reshape(m, heads, d)


def rope_table(seq_len: int, head_dim: int, base: float) -> Tensor:
    freqs = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float64), freqs)
    return torch.stack([angles.cos(), angles.sin()], -1).float()


def apply_rope(x: Tensor, rope: Tensor) -> Tensor:
    # HF Llama layout: the two halves of head_dim are the (real, imag) pairs.
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    cos = rope[..., 0].unsqueeze(1).to(x.dtype)  # [N, 1, half]
    sin = rope[..., 1].unsqueeze(1).to(x.dtype)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def attention_mask(starts: Tensor, t: int, span: int) -> Tensor:
    """[B, 1, t, span] causal mask for rows whose first new token is at
    position starts[b]: query i may see keys 0 .. starts[b] + i."""
    q = starts[:, None] + torch.arange(t, device=starts.device)[None, :]  # [B, t]
    keys = torch.arange(span, device=starts.device)
    return (keys[None, None, :] <= q[:, :, None]).unsqueeze(1)
