"""The batching engine: one decode loop on its own thread serving every request.

Each loop iteration (the scheduler's turn, then the model runner's):
  1. take new requests and cancellations from the inbox;
  2. admit waiting requests into staging slots while there is room, seeding
     each one's KV cache from the prefix cache;
  3. run one batched prefill forward over the staged requests' next chunks
     (many short prompts at once, a long document a chunk at a time, so it
     never freezes everyone else's stream);
  4. run one decode step for every running sequence and send each new token
     the moment it is sampled.
Running sequences always occupy cache slots 0..B-1, so a decode step reads
one contiguous block of the cache (a view, no gather); a sequence that leaves
is replaced by the last one, and a staged request graduates by copying its
prompt's cache rows to the end of the block (once per alternative).
"""
from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import torch

from .detokenize import TextStream
from .metrics import EngineMetrics
from .model import LoRARows, Transformer, attention_mask
from .prefix_cache import PrefixCache
from .sampling import sample

log = logging.getLogger("writeup.engine")


class Busy(Exception):
    """The waiting queue is full."""


@dataclass(frozen=True)
class Params:
    max_tokens: int = 40
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(eq=False)
class Request:
    id: str
    route: str
    prompt: str
    params: Params
    emit: Callable[[dict], None]  # called on the engine thread; must not block
    adapter: int = 0
    prompt_ids: list[int] | None = None  # pre-tokenized prompt (OpenAI token arrays, benchmarks)
    submitted: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0
    ids: torch.Tensor | None = None  # prompt tokens after truncation
    pos: int = 0  # prompt tokens already in the cache (during prefill)
    slot: int = -1


@dataclass(eq=False)
class Seq:
    req: Request
    index: int
    slot: int
    pos: int  # tokens in the cache
    last: int  # sampled, not yet in the cache
    gen: torch.Generator
    stream: TextStream
    generated: int = 0
    last_time: float = 0.0


class Engine:
    def __init__(self, model: Transformer, tokenizer, *, routes: dict[str, int], max_batch: int = 32,
                 max_queue: int = 64, context: int = 2048, window_step: int = 256, prefill_chunk: int = 256,
                 prefill_tokens: int = 512, max_staged: int = 4, prefix_cache_mb: float = 512,
                 metrics: EngineMetrics | None = None, threads: int | None = None):
        self.model, self.tok = model, tokenizer
        self.threads = threads  # torch CPU threads for the engine thread
        self.routes = routes  # route -> adapter index (0 = base)
        self.max_batch, self.max_queue = max_batch, max_queue
        self.window_step, self.prefill_chunk = window_step, prefill_chunk
        self.prefill_tokens = max(prefill_tokens, prefill_chunk)  # padded tokens per prefill forward
        # Slots: [0, max_batch) running, then staging slots, then one spare
        # for health probes so a full batch never blocks them.
        model.setup_cache(max_batch + max_staged + 1, context)
        self.context = model.max_seq
        self.free_staging = list(range(max_batch, max_batch + max_staged))
        self.probe_slot = max_batch + max_staged
        self.device = model.output.weight.device
        self.metrics = metrics or EngineMetrics()
        self.prefix = PrefixCache(int(prefix_cache_mb * 2**20)) if prefix_cache_mb > 0 else None
        self.eos = {i for i in (tokenizer.eos_token_id,) if i is not None}
        self.start_token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.n_adapters = 0
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.waiting: deque[Request] = deque()
        self.staged: list[Request] = []  # admitted, being prefilled
        self.running: list[Seq] = []
        self._pending = 0  # submitted, not yet admitted: what max_queue bounds
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.fatal: BaseException | None = None  # set when the device is broken

    # ---- called from other threads -------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="engine", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)

    def submit(self, req: Request) -> None:
        with self._lock:
            if self._pending >= self.max_queue:
                raise Busy()
            self._pending += 1
            self.metrics.queue_depth.set(self._pending)
        self.inbox.put(("submit", req))
        self._wake.set()

    def cancel(self, req: Request) -> None:
        req.cancelled = True
        self._wake.set()

    def probe(self) -> Future:
        """A one-token forward pass on the engine thread (the health check)."""
        fut: Future = Future()
        self.inbox.put(("probe", fut))
        self._wake.set()
        return fut

    def tokenize(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"]

    @property
    def idle(self) -> bool:
        return not (self.running or self.staged or self.waiting)

    # ---- the loop ---------------------------------------------------------
    def _loop(self) -> None:
        torch.set_grad_enabled(False)
        if self.threads:
            torch.set_num_threads(self.threads)
        while not self._stop:
            try:
                self._drain()
                if self.idle:
                    self._wake.wait(0.5)
                    self._wake.clear()
                    continue
                self._admit()
                if self.staged:
                    self._prefill()
                if self.running:
                    self._decode_step()
            except Exception as e:  # a bug or a broken device: fail the work, keep serving
                log.exception("engine step failed")
                if "cuda" in repr(e).lower() or "accelerator" in type(e).__name__.lower():
                    self.fatal = e
                self._fail_all("internal_error", "The model failed while generating; please retry.")

    def _drain(self) -> None:
        while True:
            try:
                kind, item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "submit":
                self.waiting.append(item)
            else:
                self._run_probe(item)
        for req in [r for r in self.waiting if r.cancelled]:
            self.waiting.remove(req)
            self._unqueue()
            for i in range(req.params.n):
                self._done(req, i, "cancelled", 0)
        for req in [r for r in self.staged if r.cancelled]:
            self._unstage(req)
            for i in range(req.params.n):
                self._done(req, i, "cancelled", 0)
        for s in [s for s in self.running if s.req.cancelled]:
            self._finish(s, "cancelled")

    def _run_probe(self, fut: Future) -> None:
        try:
            dev = self.device
            logits = self.model(torch.tensor([[self.start_token]], device=dev), [self.probe_slot],
                                torch.zeros(1, 1, dtype=torch.long, device=dev),
                                torch.ones(1, 1, 1, 1, dtype=torch.bool, device=dev),
                                logits_at=torch.zeros(1, dtype=torch.long, device=dev))
            fut.set_result(bool(torch.isfinite(logits).all()))
        except Exception as e:  # noqa: BLE001 - reported to the health endpoint
            if "cuda" in repr(e).lower():
                self.fatal = e
            fut.set_exception(e)

    # ---- scheduling ---------------------------------------------------------
    def _admit(self) -> None:
        if not self.waiting:
            return
        reserved = len(self.running) + sum(r.params.n for r in self.staged)
        while self.waiting and self.free_staging and reserved + self.waiting[0].params.n <= self.max_batch:
            req = self.waiting.popleft()
            self._unqueue()
            try:
                ids = list(req.prompt_ids) if req.prompt_ids is not None else self.tokenize(req.prompt)
            except Exception:  # noqa: BLE001 - one unreadable prompt must fail alone, not the whole batch
                log.exception("request %s: tokenizing its prompt failed", req.id)
                req.emit({"type": "error", "id": req.id, "code": "invalid_request",
                          "message": "The prompt could not be tokenized."})
                self.metrics.requests.labels(req.route, "error").inc()
                continue
            reserved += req.params.n
            ids = ids or [self.start_token]
            budget = self.context - req.params.max_tokens
            if len(ids) > budget:
                # Drop the start in whole window steps so the kept text's prefix
                # stays the same across requests and keeps hitting the cache.
                drop = math.ceil((len(ids) - budget) / self.window_step) * self.window_step
                ids = ids[min(drop, len(ids) - 1):]
            req.ids = torch.tensor(ids, dtype=torch.long)
            req.prompt_tokens = len(ids)
            req.slot = self.free_staging.pop()
            req.pos = 0
            if self.prefix is not None:
                self.metrics.prefix_lookups.inc()
                entry, n = self.prefix.lookup(req.adapter, req.ids)
                n = min(n, len(ids) - 1)  # the last prompt token is always computed: its logits start the reply
                if entry is not None and n > 0:
                    self._copy_in(entry.kv, req.slot, n)
                    req.pos = req.cached_tokens = n
                    self.metrics.prefix_hits.inc()
            self.metrics.prompt_tokens.labels(req.route).inc(len(ids))
            self.metrics.cached_tokens.labels(req.route).inc(req.cached_tokens)
            self.staged.append(req)
        self._set_active()

    def _prefill(self) -> None:
        """One forward over the next chunk of as many staged requests as fit
        the token budget (rows are padded to the longest chunk)."""
        batch, width = [], 0
        for req in self.staged:
            t = min(len(req.ids) - req.pos, self.prefill_chunk)
            if batch and (len(batch) + 1) * max(width, t) > self.prefill_tokens:
                break
            batch.append((req, t))
            width = max(width, t)
        dev = self.device
        starts = torch.tensor([r.pos for r, _ in batch])
        tokens = torch.zeros(len(batch), width, dtype=torch.long)
        for i, (r, t) in enumerate(batch):
            tokens[i, :t] = r.ids[r.pos:r.pos + t]
        # Padding positions write junk past a row's prompt; it is never read
        # (masks stop at each row's length) and is overwritten when decoding.
        pos = (starts[:, None] + torch.arange(width)[None, :]).clamp_max(self.context - 1)
        logits = self.model(tokens.to(dev), [r.slot for r, _ in batch], pos.to(dev),
                            attention_mask(starts.to(dev), width, int(starts.max()) + width),
                            self._lora([r.adapter for r, _ in batch]),
                            logits_at=torch.tensor([t - 1 for _, t in batch], device=dev))
        for i, (r, t) in enumerate(batch):
            r.pos += t
            if r.pos == len(r.ids):
                self._graduate(r, logits[i])

    def _graduate(self, req: Request, logits: torch.Tensor) -> None:
        """Prefill done: move into the running block, one sequence per alternative."""
        n_prompt = len(req.ids)
        if self.prefix is not None and req.cached_tokens < n_prompt - 1:
            self.prefix.insert(req.adapter, req.ids, self._copy_out(req.slot, n_prompt))
            self.metrics.prefix_bytes.set(self.prefix.nbytes)
        p = req.params
        base_seed = p.seed if p.seed is not None else int.from_bytes(os.urandom(7), "little")
        seqs = []
        for i in range(p.n):
            slot = len(self.running) + i
            self._copy_slot(req.slot, slot, n_prompt)
            gen = torch.Generator().manual_seed(base_seed + i)
            seqs.append(Seq(req, i, slot, n_prompt, -1, gen, TextStream(self.tok, p.stop)))
        self._unstage(req)
        self.running.extend(seqs)
        tokens = self._sample(logits[None].expand(p.n, -1), seqs)
        for s, tok in zip(seqs, tokens.tolist()):
            self._accept(s, tok)
        self._set_active()

    def _unstage(self, req: Request) -> None:
        self.staged.remove(req)
        self.free_staging.append(req.slot)
        self._set_active()

    def _decode_step(self) -> None:
        t0 = time.perf_counter()
        dev = self.device
        seqs = self.running
        b = len(seqs)
        pos = torch.tensor([s.pos for s in seqs], device=dev)
        toks = torch.tensor([[s.last] for s in seqs], device=dev)
        logits = self.model(toks, list(range(b)), pos[:, None], attention_mask(pos, 1, int(pos.max()) + 1),
                            self._lora([s.req.adapter for s in seqs]), logits_at=torch.zeros(b, dtype=torch.long, device=dev))
        for s in seqs:
            s.pos += 1
        tokens = self._sample(logits, seqs)
        for s, tok in zip(list(seqs), tokens.tolist()):
            self._accept(s, tok)
        self.metrics.step.observe(time.perf_counter() - t0)
        self.metrics.batch_size.set(b)

    def _sample(self, logits, seqs: list[Seq]) -> torch.Tensor:
        ps = [s.req.params for s in seqs]
        return sample(logits, torch.tensor([p.temperature for p in ps], device=logits.device),
                      torch.tensor([p.top_k for p in ps], device=logits.device),
                      torch.tensor([p.top_p for p in ps], device=logits.device), [s.gen for s in seqs])

    def _lora(self, adapters: list[int]) -> LoRARows | None:
        if not self.n_adapters or not any(adapters):
            return None
        return LoRARows(adapters, self.n_adapters, self.device, self.model.output.weight.dtype)

    # ---- per-token bookkeeping ------------------------------------------------
    def _accept(self, s: Seq, tok: int) -> None:
        req, now = s.req, time.perf_counter()
        s.generated += 1
        self.metrics.generated.labels(req.route).inc()
        if s.generated == 1:
            if s.index == 0:
                self.metrics.ttft.observe(now - req.submitted)
        else:
            self.metrics.itl.observe(now - s.last_time)
        s.last_time = now
        if tok in self.eos:
            return self._finish(s, "stop")
        text = s.stream.push(tok)
        if text:
            req.emit({"type": "token", "id": req.id, "index": s.index, "text": text})
        if s.stream.stopped:
            return self._finish(s, "stop")
        if s.generated >= req.params.max_tokens or s.pos + 1 >= self.context:
            return self._finish(s, "length")
        s.last = tok

    def _finish(self, s: Seq, reason: str) -> None:
        req = s.req
        if reason != "cancelled" and not s.stream.stopped:
            tail = s.stream.flush()
            if tail:
                req.emit({"type": "token", "id": req.id, "index": s.index, "text": tail})
        self._remove(s)
        self._done(req, s.index, reason, s.generated)
        self._set_active()

    def _done(self, req: Request, index: int, reason: str, generated: int) -> None:
        req.emit({"type": "done", "id": req.id, "index": index, "finish_reason": reason,
                  "usage": {"prompt_tokens": req.prompt_tokens, "completion_tokens": generated,
                            "cached_tokens": req.cached_tokens}})
        self.metrics.requests.labels(req.route, reason).inc()

    def _remove(self, s: Seq) -> None:
        i = s.slot
        last = self.running.pop()
        if last is not s:
            self._copy_slot(last.slot, i, last.pos)
            last.slot = i
            self.running[i] = last

    def _unqueue(self) -> None:
        with self._lock:
            self._pending -= 1
            self.metrics.queue_depth.set(self._pending)

    def _set_active(self) -> None:
        counts = dict.fromkeys(self.routes, 0)
        for s in self.running:
            counts[s.req.route] = counts.get(s.req.route, 0) + 1
        for r in self.staged:
            counts[r.route] = counts.get(r.route, 0) + r.params.n
        for route, c in counts.items():
            self.metrics.active.labels(route).set(c)

    def _fail_all(self, code: str, message: str) -> None:
        reqs = {s.req for s in self.running} | set(self.staged)
        self.running = []
        for r in list(self.staged):
            self._unstage(r)
        for req in reqs:
            req.emit({"type": "error", "id": req.id, "code": code, "message": message})
            self.metrics.requests.labels(req.route, "error").inc()
        self._set_active()

    # ---- KV cache copies --------------------------------------------------------
    def _caches(self):
        return [layer.attention.cache for layer in self.model.layers]

    def _copy_slot(self, src: int, dst: int, n: int) -> None:
        if src == dst or n <= 0:
            return
        for c in self._caches():
            c.k[dst, :, :n] = c.k[src, :, :n]
            c.v[dst, :, :n] = c.v[src, :, :n]

    def _copy_out(self, slot: int, n: int) -> torch.Tensor:
        return torch.stack([torch.stack([c.k[slot, :, :n], c.v[slot, :, :n]]) for c in self._caches()]).cpu()

    def _copy_in(self, kv: torch.Tensor, slot: int, n: int) -> None:
        kv = kv.to(self.device)
        for layer_kv, c in zip(kv, self._caches()):
            c.k[slot, :, :n] = layer_kv[0, :, :n]
            c.v[slot, :, :n] = layer_kv[1, :, :n]
