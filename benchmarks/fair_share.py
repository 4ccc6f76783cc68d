"""One writer at full budget beside 4 ordinary writers, against the same 4 alone.

Ordinary writers type a short draft, pause, ask for a suggestion (24 tokens,
3 alternatives), read it, type on. The flooder keeps as many long requests
(200 tokens, 4 alternatives) waiting as the engine lets one writer have, and
sends a new one whenever one ends or is refused. Printed: the ordinary
writers' time to first token p50 / p90 in both variants and their ratio, and
how the flooder's extra requests were answered (`over_quota`). Variants are
interleaved, medians over repeats, one engine (the embedded model) for all.

    .venv/bin/python -m benchmarks.fair_share [--seconds 40] [--repeats 2]
"""
from __future__ import annotations

import random
import statistics
import threading
import time
from pathlib import Path

import torch

from contract.sampling_params import SamplingParams
from microservices.engine.engine import Engine, OverQuota, Request
from microservices.engine.loader import load_model, load_tokenizer

from . import cli

FOLDER = Path(__file__).resolve().parent.parent / "models" / "smollm2-135m"
WORDS = "the harbour town woke slowly while fishermen mended their nets along the quay and gulls argued".split()


def ask(engine: Engine, writer: str, prompt: str, params: SamplingParams) -> tuple[threading.Event, dict]:
    done, out = threading.Event(), {}
    t0 = time.perf_counter()

    def emit(ev):
        kind = type(ev).__name__
        if kind == "Token":
            out.setdefault("ttft", time.perf_counter() - t0)
        elif kind == "Error" or (kind == "Done" and ev.index == params.n - 1):
            done.set()
    engine.submit(Request(id=writer, route="b", prompt=prompt, params=params, writer=writer, emit=emit))
    return done, out


def ordinary(engine: Engine, name: str, until: float, ttfts: list) -> None:
    rng = random.Random(name)
    text = " ".join(rng.choice(WORDS) for _ in range(80))
    while time.perf_counter() < until:
        text += " " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))
        done, out = ask(engine, name, text, SamplingParams(max_tokens=24, n=3))
        done.wait()
        if "ttft" in out:
            ttfts.append(out["ttft"])
        time.sleep(rng.uniform(1.0, 2.0))  # reads the suggestion, types on


def flooder(engine: Engine, until: float, refused: list) -> None:
    pending = []
    while time.perf_counter() < until:
        pending = [d for d in pending if not d.is_set()]
        try:
            done, _ = ask(engine, "flood", "Once upon a time " * 20, SamplingParams(max_tokens=200, n=4))
            pending.append(done)
        except OverQuota:
            refused.append(1)
            time.sleep(0.05)


def run(engine: Engine, seconds: float, flood: bool) -> tuple[list, int]:
    until = time.perf_counter() + seconds
    ttfts, refused = [], []
    threads = [threading.Thread(target=ordinary, args=(engine, f"w{i}", until, ttfts)) for i in range(4)]
    if flood:
        threads.append(threading.Thread(target=flooder, args=(engine, until, refused)))
    [t.start() for t in threads]
    [t.join() for t in threads]
    while not engine.idle:  # let the flooder's backlog drain before the next variant
        for r in list(engine.waiting) + engine.staged + [s.req for s in engine.running]:
            engine.cancel(r)
        time.sleep(0.2)
    return ttfts, len(refused)


def main():
    ap = cli.parser(__doc__, repeats=2)
    ap.add_argument("--seconds", type=float, default=40)
    args = cli.parse(ap)
    engine = Engine(load_model(FOLDER, "cpu"), load_tokenizer(FOLDER), routes={"b": 0}, max_batch=32,
                    context=2048, threads=args.threads)
    engine.start()
    figures = {"alone": [], "with flooder": []}
    refused = 0
    for _ in range(args.repeats):
        for variant in figures:
            ttfts, r = run(engine, args.seconds, variant != "alone")
            refused += r
            ttfts.sort()
            figures[variant].append((ttfts[len(ttfts) // 2], ttfts[int(0.9 * (len(ttfts) - 1))], len(ttfts)))
    engine.stop()
    print(f"SmolLM2-135M, {args.threads} threads; 4 ordinary writers (n=3, 24 tokens), {args.seconds:.0f} s a run, "
          f"medians over {args.repeats} repeats; the flooder: n=4, 200 tokens, as many waiting as allowed\n")
    print(f"{'variant':<14} {'TTFT p50':>9} {'TTFT p90':>9} {'requests':>9}")
    med = {}
    for variant, runs in figures.items():
        med[variant] = [statistics.median(r[i] for r in runs) for i in range(3)]
        p50, p90, n = med[variant]
        print(f"{variant:<14} {p50 * 1e3:>7.0f}ms {p90 * 1e3:>7.0f}ms {n:>9.0f}")
    print(f"\nordinary writers' p90 TTFT with the flooder / alone: {med['with flooder'][1] / med['alone'][1]:.2f}x")
    print(f"flooder requests refused with over_quota: {refused}")


if __name__ == "__main__":
    main()
