"""KV cache of recent prompts, keyed by (adapter, token prefix).

A writer's next request is the same document a few words longer, so most of
its prompt was already computed. Entries hold the keys and values of whole
prompts; a lookup finds the entry sharing the longest token prefix with the
new prompt, whatever socket or writer it came from. An edit in the middle of
a document simply shortens the shared prefix, so a stale cache can never be
used past the first changed token. Memory is bounded by an LRU byte budget."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Entry:
    adapter: int
    tokens: Tensor  # [L] long, CPU
    kv: Tensor  # [n_layer, 2, kv_heads, L, head_dim]

    @property
    def nbytes(self) -> int:
        return self.kv.numel() * self.kv.element_size() + self.tokens.numel() * 8


class PrefixCache:
    def __init__(self, budget_bytes: int, min_tokens: int = 16):
        self.budget = budget_bytes
        self.min_tokens = min_tokens  # shorter prompts are cheaper to recompute than to store
        self.entries: OrderedDict[int, Entry] = OrderedDict()
        self.nbytes = 0
        self._next = 0

    def lookup(self, adapter: int, tokens: Tensor) -> tuple[Entry | None, int]:
        """The entry sharing the longest prefix with `tokens`, and that length."""
        best, best_len = None, 0
        for key, e in self.entries.items():
            if e.adapter != adapter:
                continue
            n = min(len(e.tokens), len(tokens))
            if n <= best_len:
                continue
            diff = (e.tokens[:n] != tokens[:n]).nonzero()
            common = int(diff[0]) if len(diff) else n
            if common > best_len:
                best, best_len, best_key = e, common, key
        if best is not None:
            self.entries.move_to_end(best_key)
        return best, best_len

    def insert(self, adapter: int, tokens: Tensor, kv: Tensor) -> None:
        if len(tokens) < self.min_tokens:
            return
        entry = Entry(adapter, tokens.clone(), kv)
        if entry.nbytes > self.budget:
            return
        # An entry that is a prefix of the new one is superseded by it.
        for key in [k for k, e in self.entries.items() if e.adapter == adapter and len(e.tokens) <= len(tokens)
                    and torch.equal(e.tokens, tokens[:len(e.tokens)])]:
            self._drop(key)
        self.entries[self._next] = entry
        self._next += 1
        self.nbytes += entry.nbytes
        while self.nbytes > self.budget:
            self._drop(next(iter(self.entries)))

    def _drop(self, key: int) -> None:
        self.nbytes -= self.entries.pop(key).nbytes

    def clear(self) -> None:
        self.entries.clear()
        self.nbytes = 0
