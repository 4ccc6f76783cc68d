"""Cache slots: where every sequence's keys and values live, and the prefix cache.

A slot is one row of the KV cache, a whole context long. While a sequence
runs, its slot is busy. When it ends, the slot is *parked*: it keeps the keys
and values of the text it holds, tagged with its scope (the writer's key and
the adapter). The next request in the same scope takes the parked slot that
shares the longest prefix with its prompt and computes only the rest, in
place: a cache hit copies nothing, and successive versions of a draft share
one slot, each adding only its new tokens (llama.cpp's server keeps prompts
the same way). Scopes never share: one writer cannot hit, time or count
another's text (vLLM's `cache_salt`).

Parked slots are evicted least recently used first, and one scope keeps at
most `per_scope` of them, so no writer can hold the whole cache.

Why slots and not a paged block pool: on a CPU, attention over blocks needs
their keys gathered into one tensor every step, which costs as much memory
traffic as the attention itself on long drafts. A slot is read as a view.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

Scope = tuple[str, int]  # (writer key, adapter)
NO_TOKENS = torch.zeros(0, dtype=torch.long)


@dataclass(eq=False)
class Slot:
    index: int  # row of the model's KV cache
    tokens: Tensor = field(default_factory=lambda: NO_TOKENS)  # ids whose KV is at positions 0..len-1
    scope: Scope | None = None  # set while parked with reusable contents
    busy: bool = False
    used: int = 0  # LRU clock


def common_prefix(a: Tensor, b: Tensor) -> int:
    n = min(len(a), len(b))
    diff = (a[:n] != b[:n]).nonzero()
    return int(diff[0]) if len(diff) else n


class SlotPool:
    def __init__(self, indices: list[int], *, per_scope: int, min_tokens: int = 16, reuse: bool = True):
        self.slots = [Slot(i) for i in indices]
        self.per_scope = per_scope
        self.min_tokens = min_tokens  # shorter matches are cheaper to recompute than to keep a slot for
        self.reuse = reuse
        self._clock = 0

    @property
    def available(self) -> int:
        return sum(not s.busy for s in self.slots)

    def parked(self, scope: Scope | None = None) -> list[Slot]:
        return [s for s in self.slots if not s.busy and s.scope is not None and (scope is None or s.scope == scope)]

    def take(self, scope: Scope, ids: Tensor) -> tuple[Slot, int] | None:
        """A slot for a new sequence in `scope` whose text is `ids`, and how
        many leading tokens of it already have their KV there; None when
        every slot is busy."""
        best, hit = None, 0
        if self.reuse:
            for s in self.parked(scope):
                n = common_prefix(s.tokens, ids)
                if n > hit:
                    best, hit = s, n
        if best is None or hit < self.min_tokens:
            hit = 0
            idle = [s for s in self.slots if not s.busy]
            if not idle:
                return None
            # an empty slot first, else the least recently used parked one
            best = min(idle, key=lambda s: (s.scope is not None, s.used))
        best.busy, best.scope = True, None
        best.tokens = ids[:hit]
        self._touch(best)
        return best, hit

    def park(self, slot: Slot, scope: Scope, tokens: Tensor) -> None:
        """The sequence in `slot` ended; its KV for `tokens` stays reusable."""
        slot.busy = False
        if not self.reuse or len(tokens) < self.min_tokens:
            return self.free(slot)
        slot.scope, slot.tokens = scope, tokens
        self._touch(slot)
        mine = sorted(self.parked(scope), key=lambda s: s.used)
        for old in mine[:max(0, len(mine) - self.per_scope)]:
            self.free(old)

    def free(self, slot: Slot) -> None:
        slot.busy, slot.scope, slot.tokens = False, None, NO_TOKENS

    def cached_tokens(self) -> int:
        return sum(len(s.tokens) for s in self.parked())

    def _touch(self, slot: Slot) -> None:
        self._clock += 1
        slot.used = self._clock
