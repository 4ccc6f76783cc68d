"""The batching engine: one loop on its own thread serving every request.

Each loop iteration (the scheduler's turn, then the model runner's):
  1. take new requests, prewarms, cancellations and probes from the inbox;
  2. admit waiting requests, writers served round-robin, each into a cache
     slot that already holds as much of its prompt as that writer's cache
     has (slots.py): a hit computes only the new tokens and copies nothing;
  3. run one packed forward: a decode row for every running sequence plus
     the next prompt chunk of admitted requests (a long document a chunk at
     a time, so it never freezes other streams), and send each new token the
     moment it is sampled. A prewarm (prefill only, for a writer's opened
     draft) runs at low priority: never beside a request's own prefill, and
     beside decoding streams only a small chunk a step (prewarm_busy_tokens).
A request's alternatives share a long prompt's slot (share_prompt_from): no
copies, and each decode step reads the prompt once for all of them.

No request can fail another: a forward that raises is retried row by row,
and only the request whose row fails is ended with an error.
"""
from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

import torch

from contract.sampling_params import SamplingParams

from .detokenize import TextStream
from .events import Done, Error, Event, Token, Usage
from .metrics import EngineMetrics
from .model import LoRARows, Segments, Transformer
from .sampling import sample
from .slots import Slot, SlotPool
from .writers import WriterQueues

log = logging.getLogger("writeup.engine")


class Busy(Exception):
    """The waiting queue is full."""


class OverQuota(Exception):
    """This writer already has as many requests waiting as they may."""


@dataclass(eq=False)
class Request:
    id: str
    route: str
    prompt: str
    emit: Callable[[Event], None]  # called on the engine thread; must not block
    params: SamplingParams = field(default_factory=SamplingParams)
    adapter: int = 0
    writer: str = ""  # cache scope and fair-share key
    prewarm: bool = False  # prefill only, at low priority
    prompt_ids: list[int] | None = None  # pre-tokenized prompt (OpenAI token arrays, benchmarks)
    submitted: float = field(default_factory=time.perf_counter)
    cancelled: bool = False
    prompt_tokens: int = 0
    cached_tokens: int = 0
    ids: torch.Tensor | None = None  # prompt tokens after windowing
    pos: int = 0  # prompt tokens already in the cache (during prefill)
    slots: list[Slot] = field(default_factory=list)  # one per alternative; slots[0] is prefilled
    alt_hits: list[int] = field(default_factory=list)  # tokens the other alternatives' slots already hold
    shared: bool = False  # the alternatives read the prompt from slots[0] (Engine.share_prompt_from)
    live: int = 0  # its sequences still running
    kept: torch.Tensor | None = None  # what slots[0] holds once its sequence ended (parked when all have)

    @property
    def n(self) -> int:
        return 1 if self.prewarm else self.params.n

    @property
    def scope(self) -> tuple[str, int]:
        return (self.writer, self.adapter)


@dataclass(eq=False)
class Seq:
    req: Request
    index: int
    slot: Slot
    pos: int  # tokens in the cache
    last: int  # sampled, not yet in the cache
    gen: torch.Generator
    stream: TextStream
    generated: list[int] = field(default_factory=list)
    last_time: float = 0.0


def is_device_fault(e: BaseException) -> bool:
    """A broken accelerator (it does not heal: the process must restart)."""
    return "cuda" in repr(e).lower() or "accelerator" in type(e).__name__.lower()


class Engine:
    def __init__(self, model: Transformer, tokenizer, *, routes: dict[str, int], n_adapters: int = 0,
                 max_batch: int = 32, max_queue: int = 64, context: int = 2048, window_step: int = 256,
                 reserve_tokens: int = 200, prefill_chunk: int = 256, prefill_tokens: int = 512,
                 max_staged: int = 4, prefix_cache_mb: float = 512, writer_max_seqs: int | None = None,
                 writer_max_queue: int = 8, cache_per_writer: int = 4, max_prewarms: int = 16,
                 share_prompt_from: int = 256, prewarm_busy_tokens: int = 256,
                 metrics: EngineMetrics | None = None, threads: int | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.threads = threads  # torch CPU threads for the engine thread
        self.routes = routes  # route -> adapter index (0 = base)
        self.n_adapters = n_adapters
        self.max_batch, self.max_queue, self.max_staged = max_batch, max_queue, max_staged
        self.writer_max_seqs = writer_max_seqs or max(4, max_batch // 4)
        self.writer_max_queue, self.max_prewarms = writer_max_queue, max_prewarms
        self.window_step, self.prefill_chunk = window_step, prefill_chunk
        # A request's alternatives read a prompt of at least this many tokens
        # from one slot instead of each holding a copy: no copy before the
        # first token, and a decode step reads a long draft once for all of
        # them (model.attend_siblings). Shorter prompts are copied, as cheap.
        self.share_prompt_from = share_prompt_from
        # A prewarm's tokens a forward may carry beside decoding streams (none
        # beside a request's own prefill): a long draft opened under load is
        # computed by the time its writer pauses, for a bounded cost to the
        # others' steps; 0 = prewarms wait until nobody decodes.
        self.prewarm_busy_tokens = prewarm_busy_tokens
        self.prefill_tokens = max(prefill_tokens, prefill_chunk)  # new tokens per forward
        self.device = model.output.weight.device
        # Slots: enough for a full batch plus the parked ones the cache budget
        # pays for, and one spare for health probes so a full batch never blocks them.
        a = model.args
        context = min(context, a.max_pos) if a.arch == "gpt2" else context
        slot_bytes = 2 * a.n_layer * a.n_kv_head * context * a.head_dim * model.cache_dtype.itemsize
        parked = int(prefix_cache_mb * 2**20 // slot_bytes)
        self.slot_bytes = slot_bytes
        model.setup_cache(max_batch + parked + 1, context)
        self.context = model.max_seq
        self.reserve = min(reserve_tokens, self.context // 2)  # room kept for new tokens when windowing
        self.char_window = self.context * 16  # characters tokenized at most (~3x the context in English)
        self.probe_slot = max_batch + parked
        self.pool = SlotPool(list(range(max_batch + parked)), per_scope=cache_per_writer, reuse=parked > 0)
        self.metrics = metrics or EngineMetrics()
        if model.decode_graph is not None:
            model.decode_graph.counter = self.metrics.compiled
        self.eos = {i for i in (tokenizer.eos_token_id,) if i is not None}
        self.start_token = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.waiting = WriterQueues()
        self.prewarms: list[Request] = []  # waiting prewarms, oldest first
        self.staged: list[Request] = []  # admitted, being prefilled
        self.running: list[Seq] = []
        self.schedule: list[tuple[str, ...]] | None = None  # when a list, each forward's rows are logged (tests)
        self._pending = 0  # submitted, not yet admitted: what max_queue bounds
        self._queued: dict[str, int] = {}  # per writer, same
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.fatal: BaseException | None = None  # set when the device is broken
        self.warming = False  # compiling the decode step before serving (health says so)

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
        """Queue a request; Busy when the engine's queue is full, OverQuota
        when this writer already has `writer_max_queue` requests waiting."""
        if not req.prewarm:
            with self._lock:
                if self._pending >= self.max_queue:
                    raise Busy()
                if self._queued.get(req.writer, 0) >= self.writer_max_queue:
                    self.metrics.over_quota.inc()
                    raise OverQuota()
                self._pending += 1
                self._queued[req.writer] = self._queued.get(req.writer, 0) + 1
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
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    @property
    def idle(self) -> bool:
        return not (self.running or self.staged or len(self.waiting) or self.prewarms)

    # ---- the loop ---------------------------------------------------------
    def _loop(self) -> None:
        torch.set_grad_enabled(False)
        if self.threads:
            torch.set_num_threads(self.threads)
        self.warm_up()
        while not self._stop:
            if not self.tick():
                self._wake.wait(0.5)
                self._wake.clear()

    def warm_up(self) -> None:
        """Build the compiled decode graph, if the model has one, before
        serving (requests and probes wait in the inbox meanwhile); if it
        cannot be built, serve eager rather than not at all."""
        graph = self.model.decode_graph
        if graph is None or graph.ready:
            return
        log.info("compiling the decode step (about a minute the first time; cached on disk after) ...")
        self.warming = True
        try:
            log.info("decode step compiled in %.1f s", graph.warm_up(self.probe_slot, self.n_adapters))
        except Exception:  # noqa: BLE001 - a missing compiler or a compiler bug must not take the instance down
            log.exception("compiling the decode step failed; decoding eagerly")
            self.model.decode_graph = None
        finally:
            self.warming = False

    def tick(self) -> bool:
        """One iteration of the loop (tests drive it directly for exact,
        seeded schedules); False when there was nothing to do."""
        try:
            self._drain()
            if self.idle:
                return False
            self._admit()
            self._step()
        except Exception as e:  # a bug outside any one request's work: fail what is in flight, keep serving
            log.exception("engine step failed")
            if is_device_fault(e):
                self.fatal = e
            self._fail_all("internal_error", "The model failed while generating; please retry.")
        return True

    def _drain(self) -> None:
        while True:
            try:
                kind, item = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "probe":
                self._run_probe(item)
            elif item.prewarm:
                self._queue_prewarm(item)
            else:
                self.waiting.push(item)
        for req in [r for r in self.waiting if r.cancelled]:
            self.waiting.remove(req)
            self._unqueue(req)
            self._end(req, "cancelled")
        for req in [r for r in self.prewarms if r.cancelled]:
            self.prewarms.remove(req)
            self._end(req, "cancelled")
        for req in [r for r in self.staged if r.cancelled]:
            self._unstage(req)
            self._end(req, "cancelled")
        for s in [s for s in self.running if s.req.cancelled]:
            self._finish(s, "cancelled")

    def _run_probe(self, fut: Future) -> None:
        if not fut.set_running_or_notify_cancel():
            return  # the caller gave up waiting: nothing to answer, and no error
        try:
            logits = self.model(torch.tensor([self.start_token], device=self.device), Segments([self.probe_slot], [0], [1]))
            fut.set_result(bool(torch.isfinite(logits).all()))
        except Exception as e:  # noqa: BLE001 - reported to the health endpoint
            if is_device_fault(e):
                self.fatal = e
            fut.set_exception(e)

    # ---- scheduling ---------------------------------------------------------
    def _queue_prewarm(self, req: Request) -> None:
        # One waiting prewarm per writer and adapter: a newer draft supersedes it.
        for old in [r for r in self.prewarms if r.scope == req.scope]:
            self.prewarms.remove(old)
            self._end(old, "dropped")
        self.prewarms.append(req)
        while len(self.prewarms) > self.max_prewarms:
            self._end(self.prewarms.pop(0), "dropped")

    def _active(self, writer: str) -> int:
        return (sum(1 for s in self.running if s.req.writer == writer)
                + sum(r.n for r in self.staged if r.writer == writer and not r.prewarm))

    def _admit(self) -> None:
        while len(self.waiting):
            reserved = len(self.running) + sum(r.n for r in self.staged if not r.prewarm)
            real_staged = sum(1 for r in self.staged if not r.prewarm)
            if real_staged >= self.max_staged:
                break
            req = self.waiting.pop_next(lambda r: reserved + r.n <= self.max_batch
                                        and self._active(r.writer) + r.n <= self.writer_max_seqs)
            if req is None:
                break
            self._unqueue(req)
            if not self._prepare(req):
                continue
            # A prewarm of this scope hands over what it has computed; any
            # other prewarm gives up its slot if the pool is short.
            for pw in [r for r in self.staged if r.prewarm and (r.scope == req.scope or self.pool.available < req.n)]:
                self._unstage(pw)
                self._end(pw, "dropped")
            if not self._take_slots(req):  # cannot happen: there are max_batch slots beyond the parked ones
                self._error(req, "busy", "The model is serving as many requests as it can; retry in a moment.")
        if (self.prewarms and not len(self.waiting) and not any(r.prewarm for r in self.staged)
                and len(self.staged) < self.max_staged and (self.prewarm_busy_tokens or not (self.staged or self.running))):
            # A writer's own request in flight holds their draft's slot: a
            # prewarm now would miss it and compute the whole draft again in
            # another. It waits; that slot is parked with the text at the end.
            active = {s.req.scope for s in self.running} | {r.scope for r in self.staged}
            req = next((r for r in self.prewarms if r.scope not in active), None)
            if req is not None:
                self.prewarms.remove(req)
                if self._prepare(req) and not self._take_slots(req):
                    self._end(req, "dropped")
        self._set_active()

    def _prepare(self, req: Request) -> bool:
        """Tokenize and window the prompt; False (and an error sent) if it cannot be read."""
        try:
            ids = list(req.prompt_ids) if req.prompt_ids is not None else self.tokenize(self._char_window(req.prompt))
        except Exception:  # noqa: BLE001 - one unreadable prompt must fail alone
            log.exception("request %s: tokenizing its prompt failed", req.id)
            self._error(req, "invalid_request", "The prompt could not be tokenized.")
            return False
        ids = ids or [self.start_token]
        budget = self.context - max(self.reserve, 0 if req.prewarm else req.params.max_tokens)
        if len(ids) > budget:
            # Drop the start in whole window steps so the kept text's prefix
            # stays the same across requests and keeps hitting the cache
            # (steps of at most a quarter of the budget, so most of it is kept).
            step = min(self.window_step, max(1, budget // 4))
            drop = math.ceil((len(ids) - budget) / step) * step
            ids = ids[min(drop, len(ids) - 1):]
        req.ids = torch.tensor(ids, dtype=torch.long)
        req.prompt_tokens = len(ids)
        return True

    def _char_window(self, prompt: str) -> str:
        """At most `char_window` characters, cut at a multiple of half of it:
        the cut moves only in large steps as a draft grows, so the tokens
        that follow it stay the same and keep hitting the cache."""
        if len(prompt) <= self.char_window:
            return prompt
        step = self.char_window // 2
        return prompt[math.ceil((len(prompt) - self.char_window) / step) * step:]

    def _take_slots(self, req: Request) -> bool:
        if self.pool.available < req.n:
            return False
        slot, hit = self.pool.take(req.scope, req.ids)
        hit = min(hit, len(req.ids) - 1)  # the last prompt token is always computed: its logits start the reply
        req.slots, req.pos, req.cached_tokens = [slot], hit, hit
        req.shared = req.n > 1 and len(req.ids) >= self.share_prompt_from
        for _ in range(req.n - 1):
            # (a shared prompt's alternatives hold only their replies: any slot will do)
            alt, alt_hit = self.pool.take(req.scope, req.ids[:0] if req.shared else req.ids)
            req.slots.append(alt)
            req.alt_hits.append(min(alt_hit, len(req.ids) - 1))
        self.metrics.prefix_lookups.inc()
        if hit:
            self.metrics.prefix_hits.inc()
        self.metrics.prompt_tokens.labels(req.route).inc(len(req.ids))
        self.metrics.cached_tokens.labels(req.route).inc(hit)
        self.staged.append(req)
        return True

    # ---- one forward --------------------------------------------------------
    def _step(self) -> None:
        # (rows that share a prompt last: the leading short rows attend batched, see Segments)
        rows: list[tuple[object, int]] = sorted(((s, 1) for s in self.running), key=lambda r: r[0].req.shared)
        real = [r for r in self.staged if not r.prewarm]
        budget = self.prefill_tokens
        if real:
            prefill = real
        elif self.staged and (self.prewarm_busy_tokens or not self.running):
            prefill = self.staged[:1]  # a prewarm: low priority, see prewarm_busy_tokens
            if self.running:
                budget = min(budget, self.prewarm_busy_tokens)
        else:
            prefill = []
        for req in prefill:
            t = min(len(req.ids) - req.pos, self.prefill_chunk, budget)
            if t <= 0:
                break
            rows.append((req, t))
            budget -= t
        if not rows:
            return
        t0 = time.perf_counter()
        logits = self._forward_isolated(rows)
        for (req, t), lg in zip(rows, logits):
            if isinstance(req, Request) and lg is not None and req in self.staged:
                req.pos += t
                if req.pos == len(req.ids):
                    self._graduate(req, lg)
        # (a row's logits are dropped if another row of its request failed)
        decoded = [(row, lg) for (row, _), lg in zip(rows, logits)
                   if isinstance(row, Seq) and lg is not None and row in self.running]
        if decoded:
            seqs = [s for s, _ in decoded]
            for s in seqs:
                s.pos += 1
            tokens = self._sample_isolated(torch.stack([lg for _, lg in decoded]), seqs)
            for s, tok in zip(seqs, tokens):
                if tok is not None and s in self.running:
                    self._accept(s, tok)
            self.metrics.step.observe(time.perf_counter() - t0)
            self.metrics.batch_size.set(len(seqs))

    def _forward_isolated(self, rows: list) -> list:
        """Logits of each row's last token; a row whose work raised gets None
        and its request an error, and every other row goes on."""
        try:
            return list(self._forward(rows))
        except Exception as e:  # noqa: BLE001
            if is_device_fault(e) or len(rows) == 1:
                if is_device_fault(e):
                    self.fatal = e
                log.exception("forward failed")
                self._fail_rows(rows)
                return [None] * len(rows)
            log.warning("a batched forward failed (%s); retrying its rows one by one", e)
        out = []
        for row in rows:
            try:
                out.append(self._forward([row])[0])
            except Exception as e:  # noqa: BLE001
                if is_device_fault(e):
                    self.fatal = e
                log.exception("forward failed for one row")
                self._fail_rows([row])
                out.append(None)
        return out

    def _forward(self, rows: list):
        slots, starts, lengths, tokens, adapters, shares = [], [], [], [], [], []
        for row, t in rows:
            if isinstance(row, Seq):
                slots.append(row.slot.index)
                starts.append(row.pos)
                tokens.append(torch.tensor([row.last]))
                adapters.append(row.req.adapter)
                shares.append((row.req.slots[0].index, len(row.req.ids)) if row.req.shared else None)
            else:
                slots.append(row.slots[0].index)
                starts.append(row.pos)
                tokens.append(row.ids[row.pos:row.pos + t])
                adapters.extend([row.adapter] * t)
                shares.append(None)
            lengths.append(t)
        if self.schedule is not None:
            self.schedule.append(tuple(("decode:" if isinstance(r, Seq) else "prewarm:" if r.prewarm else "prefill:")
                                       + (r.req.id if isinstance(r, Seq) else f"{r.id}:{t}") for r, t in rows))
        seg = Segments(slots, starts, lengths, self.device, shares)
        return self.model(torch.cat(tokens).to(self.device), seg, self._lora(adapters), logits_at=seg.last_tokens())

    def _fail_rows(self, rows: list) -> None:
        for row, _ in rows:
            req = row.req if isinstance(row, Seq) else row
            if req in self.staged or any(s.req is req for s in self.running):
                self._fail(req, "internal_error", "The model failed on this request; please retry.")

    def _sample_isolated(self, logits: torch.Tensor, seqs: list[Seq]) -> list:
        try:
            return self._sample(logits, seqs).tolist()
        except Exception:  # noqa: BLE001
            log.warning("batched sampling failed; sampling rows one by one")
        out = []
        for i, s in enumerate(seqs):
            try:
                out.append(int(self._sample(logits[i:i + 1], [s])[0]))
            except Exception:  # noqa: BLE001
                log.exception("sampling failed for request %s", s.req.id)
                self._fail(s.req, "internal_error", "The model failed on this request; please retry.")
                out.append(None)
        return out

    def _graduate(self, req: Request, logits: torch.Tensor) -> None:
        """Prefill done: one sequence per alternative; the others' slots get
        the prompt's keys and values they do not already hold."""
        n_prompt = len(req.ids)
        self._unstage(req, free=False)
        if req.prewarm:
            self.pool.park(req.slots[0], req.scope, req.ids)
            return self._end(req, "prefilled")
        p = req.params
        base_seed = p.seed if p.seed is not None else int.from_bytes(os.urandom(7), "little")
        seqs = []
        for i, slot in enumerate(req.slots):
            if i and not req.shared:
                self._copy_prompt(req.slots[0], slot, req.alt_hits[i - 1], n_prompt)
            gen = torch.Generator().manual_seed(base_seed + i)
            seqs.append(Seq(req, i, slot, n_prompt, -1, gen, TextStream(self.tokenizer, p.stop)))
        req.live = len(seqs)
        self.running.extend(seqs)  # (siblings adjacent: a step attends them together)
        tokens = self._sample_isolated(logits[None].expand(p.n, -1), seqs)
        for s, tok in zip(seqs, tokens):
            if tok is not None and s in self.running:
                self._accept(s, tok)
        self._set_active()

    def _copy_prompt(self, src: Slot, dst: Slot, start: int, end: int) -> None:
        for layer in self.model.layers:
            layer.attention.cache.copy_range(src.index, dst.index, start, end)

    def _sample(self, logits, seqs: list[Seq]) -> torch.Tensor:
        ps = [s.req.params for s in seqs]
        dev = logits.device
        return sample(logits, torch.tensor([p.temperature for p in ps], device=dev),
                      torch.tensor([p.top_k for p in ps], device=dev),
                      torch.tensor([p.top_p for p in ps], device=dev), [s.gen for s in seqs])

    def _lora(self, adapters: list[int]) -> LoRARows | None:
        if not self.n_adapters or not any(adapters):
            return None
        return LoRARows(adapters, self.n_adapters, self.device, self.model.output.weight.dtype)

    # ---- per-token bookkeeping ------------------------------------------------
    def _accept(self, s: Seq, tok: int) -> None:
        req, now = s.req, time.perf_counter()
        s.generated.append(tok)
        self.metrics.generated.labels(req.route).inc()
        if len(s.generated) == 1:
            if s.index == 0:
                self.metrics.ttft.observe(now - req.submitted)
        else:
            self.metrics.itl.observe(now - s.last_time)
        s.last_time = now
        if tok in self.eos:
            return self._finish(s, "stop")
        text = s.stream.push(tok)
        if text:
            self._emit(req, Token(req.id, s.index, text))
        if s.stream.stopped:
            return self._finish(s, "stop")
        if len(s.generated) >= req.params.max_tokens or s.pos + 1 >= self.context:
            return self._finish(s, "length")
        s.last = tok

    def _finish(self, s: Seq, reason: str) -> None:
        req = s.req
        if reason != "cancelled" and not s.stream.stopped:
            tail = s.stream.flush()
            if tail:
                self._emit(req, Token(req.id, s.index, tail))
        self.running.remove(s)
        # The slot keeps the prompt and the reply: if the writer accepts the
        # suggestion, their next request hits all of it.
        kept = torch.cat([req.ids, torch.tensor(s.generated[:s.pos - len(req.ids)], dtype=torch.long)])
        self._release(s, kept[:s.pos])
        self._done(req, s.index, reason, len(s.generated))
        self._set_active()

    def _release(self, s: Seq, kept: torch.Tensor) -> None:
        """Give back an ended sequence's slot. With a shared prompt, the other
        alternatives hold only their replies (freed), and slots[0] stays busy
        while any sibling still reads its prompt, then is parked."""
        req = s.req
        req.live -= 1
        if not req.shared:
            return self.pool.park(s.slot, req.scope, kept)
        if s.index == 0:
            req.kept = kept
        else:
            self.pool.free(s.slot)
        if not req.live:
            self.pool.park(req.slots[0], req.scope, req.kept)

    def _end(self, req: Request, reason: str) -> None:
        for i in range(req.n):
            self._done(req, i, reason, 0)

    def _done(self, req: Request, index: int, reason: str, generated: int) -> None:
        self._emit(req, Done(req.id, index, reason, Usage(req.prompt_tokens, generated, req.cached_tokens)))
        (self.metrics.prewarms.labels(reason) if req.prewarm else self.metrics.requests.labels(req.route, reason)).inc()

    def _error(self, req: Request, code: str, message: str) -> None:
        self._emit(req, Error(req.id, code, message))
        self.metrics.requests.labels(req.route, "error").inc()

    def _emit(self, req: Request, event: Event) -> None:
        try:
            req.emit(event)
        except Exception:  # noqa: BLE001 - a broken listener cancels its own request only
            log.exception("request %s: delivering an event failed; cancelling it", req.id)
            req.cancelled = True

    def _fail(self, req: Request, code: str, message: str) -> None:
        """End one request with an error, wherever it is, freeing its slots."""
        if req in self.staged:
            self._unstage(req)
        for s in [s for s in self.running if s.req is req]:
            self.running.remove(s)
            self.pool.free(s.slot)
            req.live -= 1
        if req.shared and req.kept is not None and not req.live:  # slots[0] outlived its sequence for the others
            self.pool.free(req.slots[0])
            req.kept = None
        self._error(req, code, message)
        self._set_active()

    def _unstage(self, req: Request, free: bool = True) -> None:
        self.staged.remove(req)
        if free:
            # What the prefill computed so far stays reusable in the writer's cache.
            self.pool.park(req.slots[0], req.scope, req.ids[:req.pos])
            for slot in req.slots[1:]:
                self.pool.free(slot)
        self._set_active()

    def _unqueue(self, req: Request) -> None:
        with self._lock:
            self._pending -= 1
            left = self._queued.get(req.writer, 0) - 1
            if left > 0:
                self._queued[req.writer] = left
            else:
                self._queued.pop(req.writer, None)
            self.metrics.queue_depth.set(self._pending)

    def _set_active(self) -> None:
        counts = dict.fromkeys(self.routes, 0)
        for s in self.running:
            counts[s.req.route] = counts.get(s.req.route, 0) + 1
        for r in self.staged:
            if not r.prewarm:
                counts[r.route] = counts.get(r.route, 0) + r.n
        for route, c in counts.items():
            self.metrics.active.labels(route).set(c)
        self.metrics.prefix_bytes.set(self.pool.cached_tokens() * self.slot_bytes // self.context)

    def _fail_all(self, code: str, message: str) -> None:
        reqs = {s.req for s in self.running} | set(self.staged)
        for req in reqs:
            self._fail(req, code, message)
