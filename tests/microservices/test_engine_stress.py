"""The engine tested like a database: seeded random schedules checked against a reference.

Each schedule is a few hundred engine iterations driven one `tick()` at a
time (so a seed always replays the same interleaving). At random iterations
it submits requests from a few writers: prompt lengths from empty to twice
the context, documents that grow, get edited in the middle or repeat
(prefix-cache hits and near-misses), `n` alternatives, adapters, seeds,
greedy and sampled; cancels requests at random points (waiting, prefilling,
decoding); sends prewarms; starts health probes whose callers give up at
once; and sends "poison" requests whose forward raises, as a request that
trips a bug would.

Invariants:
  * every request ends: each alternative with exactly one `done`, or the
    request with one `error`; only poison requests get errors;
  * every greedy request that was not cancelled produces exactly the tokens
    it produces alone, on a fresh engine with no cache (with a bf16 KV cache,
    whose rounding can move a near-tie: or leaves that reply only where the
    reference model puts the two tokens within 1% of its largest logit);
    every other one runs to its length or a stop;
  * no slot leaks: when the engine is idle, no slot is busy.
"""
from __future__ import annotations

import random

import pytest
import torch

from microservices.engine import adapters
from microservices.engine.engine import Engine, Request
from microservices.engine.model import LoRARows, Segments
from microservices.engine.loader import load_model, load_tokenizer
from contract.sampling_params import SamplingParams
from tests.microservices.test_adapters import TARGETS, make_adapter
from tests.microservices.test_int4 import _to_4bit

WORDS = ("the harbour town woke slowly while fishermen mended nets along quay gulls argued over scraps and "
         "baker's boy ran between houses with basket of warm loaves storm came from north letter said nothing "
         "she opened door light fell across floor").split()
POISON = "Poisonous"  # a word whose forward raises: stands in for any request that trips a bug
CONTEXT, MAX_NEW = 128, 12
SHARE_FROM = 40  # alternatives of longer prompts read it from one slot (shorter ones copy it)
NEAR_TIE = 0.01  # of the largest |logit|: how far apart a bf16 KV cache may move two tokens


class Events:
    def __init__(self):
        self.by_id: dict[str, list] = {}

    def emit_for(self, rid: str):
        self.by_id[rid] = []
        return self.by_id[rid].append


class Recording(Engine):
    """Keeps each finished sequence's token ids, for the near-tie check."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.generated: dict[tuple[str, int], list[int]] = {}

    def _finish(self, s, reason):
        self.generated[s.req.id, s.index] = list(s.generated)
        super()._finish(s, reason)


def _engine(model, tok, routes, n_adapters, **kw) -> Recording:
    return Recording(model, tok, routes=routes, n_adapters=n_adapters, context=CONTEXT, window_step=16,
                     reserve_tokens=MAX_NEW, prefill_chunk=24, prefill_tokens=48, max_queue=256,
                     writer_max_queue=256, share_prompt_from=SHARE_FROM, **kw)


@pytest.fixture(scope="module")
def built(tiny_dir, tmp_path_factory):
    """Two engines per architecture on one model copy each: the one under test and the reference."""
    out = {}
    for arch in ("llama", "gpt2"):
        base = tiny_dir / f"tiny-{arch}"
        a1 = make_adapter(base, tmp_path_factory.mktemp("adapter"), 1, 4, TARGETS[arch])
        tok = load_tokenizer(base)
        poison_ids = set(tok(" " + POISON, add_special_tokens=False)["input_ids"])
        for weights in ("fp32", "fp16", "compiled", "int4", "bf16-kv"):
            models = []
            for i in range(2):
                m = load_model(base, "cpu")
                if weights == "int4":  # weights 4-bit already, as the embedded model's, read 4-bit by every
                    _to_4bit(m)        # matmul (so a row's rounding never depends on its batch)
                adapters.install(m, [a1])
                if weights != "fp32":  # the packed weights decode rows and short chunks read on x86
                    m.use_packed_fp16(max_rows=32)
                if weights == "int4":
                    m.use_int4_weights(max_rows=1 << 30)
                if weights == "bf16-kv":  # keys and values kept in bf16 (kv_dtype), read back as fp32
                    m.use_kv_dtype(torch.bfloat16)
                if weights in ("compiled", "int4", "bf16-kv") and i == 0:  # decode-only steps through the compiled graph; the reference eager
                    m.compile_decode()
                models.append(m)
            out[arch, weights] = (models, tok, poison_ids)
    return out


def _poison_forward(model, poison_ids):
    real = model.forward

    def forward(tokens, seg, lora=None, logits_at=None):
        if poison_ids & set(tokens.tolist()):
            raise RuntimeError("poisoned row")
        return real(tokens, seg, lora, logits_at)
    model.forward = forward


def _schedule(seed: int):
    """[(tick, action, ...)], reproducible from the seed."""
    rng = random.Random(seed)
    docs: dict[str, list[str]] = {}
    actions = []
    t = 0
    for i in range(rng.randint(18, 26)):
        t += rng.choice([0, 0, 1, 2, 3, 5, 8])
        writer = rng.choice(["ada", "bob", "cy"])
        doc = docs.get(writer, [])
        kind = rng.random()
        if not doc or kind < 0.15:
            doc = [rng.choice(WORDS) for _ in range(rng.choice([0, 1, 3, 20, 60, 150, 260]))]  # up to 2x context
        elif kind < 0.55:
            doc = doc + [rng.choice(WORDS) for _ in range(rng.randint(1, 12))]  # the writer typed on
        elif kind < 0.75 and len(doc) > 4:
            cut = rng.randrange(len(doc))
            doc = doc[:cut] + [rng.choice(WORDS) for _ in range(rng.randint(1, 4))] + doc[cut + 2:]  # an edit
        docs[writer] = doc
        words = list(doc)
        if rng.random() < 0.08:
            words.insert(rng.randrange(len(words) + 1), POISON)
        prompt = " ".join(words)
        if rng.random() < 0.15:
            actions.append((t, "prewarm", f"p{i}", writer, prompt))
            continue
        greedy = rng.random() < 0.6
        params = SamplingParams(max_tokens=rng.randint(1, MAX_NEW), temperature=0 if greedy else 0.9,
                                top_k=rng.choice([0, 5, 40]), top_p=rng.choice([1.0, 0.9]),
                                n=rng.choice([1, 1, 1, 2, 3]), seed=rng.randrange(1000))
        actions.append((t, "generate", f"r{i}", writer, prompt, params, rng.choice([0, 0, 1])))
        if rng.random() < 0.2:
            actions.append((t + rng.randint(0, 12), "cancel", f"r{i}"))
        if rng.random() < 0.3:
            actions.append((t + rng.randint(0, 6), "probe"))
    return sorted(actions, key=lambda a: a[0])


def _run(engine: Engine, actions, events: Events, max_ticks=5000):
    reqs: dict[str, Request] = {}
    probes = []
    pending = list(actions)
    tick = 0
    while pending or not engine.idle:
        while pending and pending[0][0] <= tick:
            a = pending.pop(0)
            if a[1] == "generate":
                _, _, rid, writer, prompt, params, adapter = a
                reqs[rid] = Request(id=rid, route="r", prompt=prompt, params=params, adapter=adapter, writer=writer,
                                    emit=events.emit_for(rid))
                engine.submit(reqs[rid])
            elif a[1] == "prewarm":
                _, _, rid, writer, prompt = a
                reqs[rid] = Request(id=rid, route="r", prompt=prompt, writer=writer, prewarm=True,
                                    emit=events.emit_for(rid))
                engine.submit(reqs[rid])
            elif a[1] == "cancel":
                engine.cancel(reqs[a[2]])
            else:
                fut = engine.probe()
                fut.cancel()  # the health endpoint timed out before the engine got to it
                probes.append(fut)
        engine.tick()
        tick += 1
        assert tick < max_ticks, "the engine stopped making progress"
    engine.tick()  # let the probes that arrived last be answered
    return reqs


def _alone(engine: Engine, req: Request) -> list[str]:
    events = Events()
    solo = Request(id="solo", route="r", prompt=req.prompt, params=req.params, adapter=req.adapter,
                   emit=events.emit_for("solo"))
    engine.submit(solo)
    while not engine.idle or engine.tick():
        engine.tick()
    return _texts(events.by_id["solo"], req.params.n)


def _near_tie(reference: Recording, req: Request, got: list[int], want: list[int]) -> float:
    """Where a greedy reply first left the reference's, how far apart the
    reference model put the two tokens (logits of the prompt and the common
    reply, computed afresh on the idle reference). A bf16 KV cache rounds
    keys and values, so a row's batch can move a near-tie; a wrong slot,
    position or adapter would not leave a near-tie behind."""
    i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
    ids = torch.cat([req.ids, torch.tensor(want[:i], dtype=torch.long)])
    lora = LoRARows([req.adapter] * len(ids), 1, "cpu", torch.float32) if req.adapter else None
    logits = reference.model(ids, Segments([0], [0], [len(ids)]), lora, logits_at=torch.tensor([len(ids) - 1]))[0]
    return float(logits[want[i]] - logits[got[i]]) / float(logits.abs().max())


def _texts(events, n):
    texts = [""] * n
    for ev in events:
        if ev.__class__.__name__ == "Token":
            texts[ev.index] += ev.text
    return texts


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("weights,seed", [("fp32", s) for s in range(6)] + [("fp16", s) for s in (6, 7)]
                         + [("compiled", s) for s in (8, 9)] + [("int4", s) for s in (12, 14)]
                         + [("bf16-kv", s) for s in (16, 20)])  # (20: a near-tie on this CPU)
def test_random_schedule_matches_each_request_alone(built, arch, weights, seed):
    (model, ref_model), tok, poison_ids = built[arch, weights]
    for m in (model, ref_model):
        if "forward" in m.__dict__:
            del m.forward
    _poison_forward(model, poison_ids)
    rng = random.Random(seed)
    engine = _engine(model, tok, {"r": 0}, 1, max_batch=rng.choice([3, 6, 12]), max_staged=rng.choice([1, 2, 4]),
                     prefix_cache_mb=rng.choice([0, 0.3, 4]), writer_max_seqs=rng.choice([3, 12]),
                     cache_per_writer=rng.choice([1, 3]))
    reference = _engine(ref_model, tok, {"r": 0}, 1, max_batch=4, prefix_cache_mb=0)
    engine.warm_up()  # (the compiled graph, traced before the schedule as the server does)
    events = Events()
    with torch.no_grad():
        reqs = _run(engine, _schedule(seed), events)
        assert not any(s.busy for s in engine.pool.slots), "a slot leaked"
        checked = ties = 0
        for rid, req in reqs.items():
            evs = events.by_id[rid]
            errors = [e for e in evs if e.__class__.__name__ == "Error"]
            dones = [e for e in evs if e.__class__.__name__ == "Done"]
            # (windowing may drop a poison word from the start of a long draft)
            poisoned = req.ids is not None and bool(poison_ids & set(req.ids.tolist()))
            if errors:
                assert poisoned and len(errors) == 1 and errors[0].code == "internal_error", (rid, errors)
                continue
            assert sorted(d.index for d in dones) == list(range(req.n)), (rid, dones)
            if req.prewarm:
                assert {d.finish_reason for d in dones} <= {"prefilled", "dropped", "cancelled"}
                continue
            reasons = {d.finish_reason for d in dones}
            assert not poisoned or reasons == {"cancelled"}, (rid, reasons)
            if "cancelled" in reasons:
                continue
            assert all(d.usage.completion_tokens == req.params.max_tokens or d.finish_reason == "stop" for d in dones)
            if req.params.temperature == 0:
                # Sampled rows are checked for ending only: float sums in a batch differ from
                # alone in the last bits, which can move a draw over a near-uniform vocabulary.
                texts = _alone(reference, req)
                if weights == "bf16-kv" and _texts(evs, req.n) != texts:
                    j = next(j for j, (a, b) in enumerate(zip(_texts(evs, req.n), texts)) if a != b)
                    got, want = engine.generated[rid, j], reference.generated["solo", j]
                    assert len(got) == len(want) and _near_tie(reference, req, got, want) < NEAR_TIE, (rid, got, want)
                    ties += 1
                else:
                    assert _texts(evs, req.n) == texts, (rid, req.params, dones[0].usage)
                checked += 1
        assert checked >= 3 and ties <= max(1, checked // 4)  # the schedule really compared requests

        if weights in ("compiled", "int4", "bf16-kv"):  # and its decode steps really ran compiled
            ran = engine.metrics.compiled.labels("ran")._value.get()
            assert ran > 10 and engine.metrics.compiled.labels("eager")._value.get() == 0
