"""Turn a batch of logits into next tokens, each row with its own parameters.

Temperature, top-k and top-p are applied to groups of rows at once: rows with
a top-k share one partial sort as wide as the widest of them, and only rows
without one (top_k 0) pay for sorting the whole vocabulary, so a neighbour's
parameters never make a row's step costlier. The final draw loops over rows,
because each row has its own random generator (so a seeded request gives the
same text whoever it shares the batch with)."""
from __future__ import annotations

import torch
from torch import Tensor


def sample(logits: Tensor, temperature: Tensor, top_k: Tensor, top_p: Tensor,
           generators: list[torch.Generator | None]) -> Tensor:
    """logits [B, V] float; temperature/top_p [B] float; top_k [B] long (0 = off).
    Rows with temperature 0 are greedy. Returns token ids [B] (long, on CPU)."""
    logits = logits.float()
    out = logits.argmax(-1).cpu()
    sampled = temperature > 0
    for group in (sampled & (top_k > 0), sampled & (top_k <= 0)):
        rows = group.nonzero().flatten()
        if len(rows):
            picks = _draw(logits[rows], temperature[rows], top_k[rows], top_p[rows],
                          [generators[i] for i in rows.tolist()])
            out[rows.cpu()] = picks
    return out


def _draw(logits: Tensor, temperature: Tensor, top_k: Tensor, top_p: Tensor, generators) -> Tensor:
    v = logits.shape[-1]
    k = v if bool((top_k <= 0).any()) else min(int(top_k.max()), v)
    vals, idx = logits.topk(k, dim=-1)  # sorted, descending
    vals = vals / temperature.clamp_min(1e-5)[:, None]
    ranks = torch.arange(k, device=logits.device)[None, :]
    row_k = torch.where(top_k > 0, top_k.clamp_max(k), torch.full_like(top_k, k))
    vals = vals.masked_fill(ranks >= row_k[:, None], float("-inf"))
    probs = vals.softmax(-1)
    # top-p: keep the smallest prefix whose mass reaches p (always the first token)
    before = probs.cumsum(-1) - probs
    # (ranks > 0 keeps it even when a tiny top_p rounds to 0 in float32, which
    # would otherwise zero the row and fail the whole batch's step)
    probs = probs.masked_fill((before >= top_p[:, None]) & (ranks > 0), 0.0).cpu()
    idx = idx.cpu()
    out = torch.empty(len(probs), dtype=torch.long)
    for i, n in enumerate(row_k.tolist()):
        # Over the row's own top-k only: the draw must not depend on the
        # widest top-k of whoever else shares the batch.
        out[i] = idx[i, torch.multinomial(probs[i, :n], 1, generator=generators[i])]
    return out
