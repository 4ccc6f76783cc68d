"""A writer's document grows from 200 to 2,000 tokens, asking for a suggestion
every few words: time to first token with prefix reuse versus without, side
by side in one run, on the embedded default model.

    .venv/bin/python -m benchmarks.prefix_reuse [--every 24] [--repeats 3]
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import torch

from contract import registry
from contract.sampling_params import SamplingParams
from microservices import weights
from microservices.engine.engine import Engine, Request
from microservices.engine.loader import load_model, load_tokenizer

CHECKPOINTS = (200, 500, 1000, 2000)
TEXT = ("The lighthouse stood at the end of the long spit of land, and every evening the keeper climbed its "
        "hundred and twelve steps to light the lamp. Ships passed in the dark, and the keeper wrote down each one "
        "in a ledger bound in green cloth: the hour, the heading, the weather, and whether it answered his signal. ")


def ttft(engine: Engine, ids: list[int]) -> tuple[float, int]:
    first, done = threading.Event(), threading.Event()
    out = {}

    def emit(ev):
        ev = ev.to_wire()
        if ev["type"] == "token" and "t" not in out:
            out["t"] = time.perf_counter()
            first.set()
        if ev["type"] == "done":
            out["cached"] = ev["usage"]["cached_tokens"]
            done.set()

    t0 = time.perf_counter()
    engine.submit(Request(id="w", route="bench", prompt="", prompt_ids=ids, emit=emit,
                          params=SamplingParams(max_tokens=8, temperature=0)))
    done.wait()
    return out.get("t", time.perf_counter()) - t0, out["cached"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--route", default="smollm2")
    ap.add_argument("--every", type=int, default=24, help="tokens typed between suggestion requests")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    m = registry.load().base_of(args.route)
    folder = weights.model_dir(m)
    tok = load_tokenizer(folder)
    doc = tok(TEXT * 60, add_special_tokens=False)["input_ids"][:max(CHECKPOINTS)]
    common = dict(routes={"bench": 0}, max_batch=4, context=2048 + 64, threads=args.threads)
    warm = Engine(load_model(folder, "cpu", m.dtype), tok, prefix_cache_mb=512, **common)
    cold = Engine(load_model(folder, "cpu", m.dtype), tok, prefix_cache_mb=0, **common)
    warm.start()
    cold.start()
    print(f"model {args.route}, {args.threads} threads; a suggestion every {args.every} tokens typed; "
          f"medians over {args.repeats} repeats\n")
    reuse = {c: [] for c in CHECKPOINTS}
    cached = {c: [] for c in CHECKPOINTS}
    for rep in range(args.repeats):
        for slot in warm.pool.slots:  # start each repeat with an empty cache
            warm.pool.free(slot)
        lengths = list(range(CHECKPOINTS[0], max(CHECKPOINTS) + 1, args.every))
        for n in sorted(set(lengths) | set(CHECKPOINTS)):
            t, c = ttft(warm, doc[:n])
            if n in reuse:
                reuse[n].append(t)
                cached[n].append(c)
    cold_t = {c: [ttft(cold, doc[:c])[0] for _ in range(args.repeats)] for c in CHECKPOINTS}
    head = f"{'tokens':>6} {'cold TTFT':>10} {'reuse TTFT':>11} {'reused tokens':>14} {'speed-up':>9}"
    print(head)
    print("-" * len(head))
    for c in CHECKPOINTS:
        a, b = statistics.median(cold_t[c]), statistics.median(reuse[c])
        print(f"{c:>6} {a * 1e3:>8.0f}ms {b * 1e3:>9.0f}ms {statistics.median(cached[c]):>14.0f} {a / b:>8.1f}x")
    warm.stop()
    cold.stop()


if __name__ == "__main__":
    main()
