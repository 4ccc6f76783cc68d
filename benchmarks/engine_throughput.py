"""Serve one workload three ways, side by side, and print the figures.

  (a) naive:  one `model.generate()` per request, a streamer in its own thread
              (how the original writeup.ai served);
  (b) engine: this repo's continuous-batching engine;
  (c) static: a plain batched decode loop over the same model, all requests
              prefilled together and decoded in lock step (no scheduler).

For each concurrency (default 1, 8, 32): aggregate tokens/s, time to first
token p50/p90 and inter-token latency p50/p90, medians over repeats, and the
ratios. Also: measured memory bandwidth and the batch-1 bandwidth bound
(weight bytes / bandwidth) against the engine's batch-1 step time.

    .venv/bin/python -m benchmarks.engine_throughput [--concurrency 1 8 32] [--repeats 3]
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
from microservices.engine.model import Segments
from microservices.engine.sampling import sample

SAMPLING = dict(temperature=0.8, top_k=40, top_p=0.95)
TEXT = ("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in "
        "want of a wife. However little known the feelings or views of such a man may be on his first entering a "
        "neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he is "
        "considered the rightful property of some one or other of their daughters. ") * 8


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def summarize(t_start, per_req):
    """per_req: list of token timestamp lists. -> dict of figures."""
    ttft = [ts[0] - t_start for ts in per_req if ts]
    itl = [b - a for ts in per_req for a, b in zip(ts, ts[1:])]
    end = max(ts[-1] for ts in per_req if ts)
    total = sum(len(ts) for ts in per_req)
    return {"tok_s": total / (end - t_start), "ttft50": pct(ttft, .5), "ttft90": pct(ttft, .9),
            "itl50": pct(itl, .5), "itl90": pct(itl, .9)}


def prompts(tok, n, length):
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    return [ids[i * 7: i * 7 + length] for i in range(n)]


def run_naive(hf, tok, ps, new):
    from transformers import TextIteratorStreamer

    per_req = [[] for _ in ps]
    t0 = time.perf_counter()

    def one(i):
        streamer = TextIteratorStreamer(tok, skip_prompt=True)
        ids = torch.tensor([ps[i]])
        th = threading.Thread(target=hf.generate, kwargs=dict(
            input_ids=ids, attention_mask=torch.ones_like(ids), streamer=streamer, max_new_tokens=new,
            min_new_tokens=new, do_sample=True, pad_token_id=tok.eos_token_id, **SAMPLING))
        th.start()
        for _ in streamer:  # one item per decoded piece, as the original sent them
            per_req[i].append(time.perf_counter())
        th.join()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ps))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return summarize(t0, per_req)


def run_engine(engine, ps, new):
    per_req = [[] for _ in ps]
    left = threading.Semaphore(0)

    def emitter(i):
        def emit(ev):
            kind = type(ev).__name__
            if kind == "Token":
                per_req[i].append(time.perf_counter())
            elif kind in ("Done", "Error"):
                left.release()
        return emit

    t0 = time.perf_counter()
    for i, p in enumerate(ps):
        engine.submit(Request(id=str(i), route="bench", prompt="", prompt_ids=p, emit=emitter(i), writer=str(i),
                              params=SamplingParams(max_tokens=new, **SAMPLING)))
    for _ in ps:
        left.acquire()
    return summarize(t0, per_req)


def run_static(model, ps, new):
    b, t = len(ps), len(ps[0])
    model.setup_cache(b, t + new + 1)
    gens = [torch.Generator().manual_seed(i) for i in range(b)]
    temp, top_k, top_p = (torch.full((b,), SAMPLING["temperature"]), torch.full((b,), SAMPLING["top_k"]),
                          torch.full((b,), SAMPLING["top_p"]))
    per_req = [[] for _ in ps]
    rows = list(range(b))
    t0 = time.perf_counter()
    seg = Segments(rows, [0] * b, [t] * b)
    logits = model(torch.tensor(ps).flatten(), seg, logits_at=seg.last_tokens())
    for step in range(new):
        tok = sample(logits, temp, top_k, top_p, gens)
        now = time.perf_counter()
        for ts in per_req:
            ts.append(now)
        if step == new - 1:
            break
        logits = model(tok, Segments(rows, [t + step] * b, [1] * b))
    return summarize(t0, per_req)


def bandwidth_gbs(mb=512, repeats=5):
    src = torch.empty(mb * 2**20 // 4)
    src.fill_(1.0)
    dst = torch.empty_like(src)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        dst.copy_(src)
        times.append(time.perf_counter() - t)
    return 2 * src.numel() * 4 / statistics.median(times) / 1e9  # read + write


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--route", default="smollm2")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--naive-repeats", type=int, default=1, help="the naive way is slow; fewer repeats")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    m = registry.load().base_of(args.route)
    folder = weights.model_dir(m)
    tok = load_tokenizer(folder)
    static_model = load_model(folder, "cpu", m.dtype)
    engine = Engine(load_model(folder, "cpu", m.dtype), tok, routes={"bench": 0}, max_batch=max(args.concurrency),
                    max_queue=1024, context=args.prompt_tokens + args.new_tokens + 8, prefix_cache_mb=0)
    engine.eos = set()  # every request generates exactly --new-tokens, as in the other two
    engine.start()
    hf = None
    if not args.skip_naive:
        from transformers import AutoModelForCausalLM

        hf = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    # tied embeddings are one tensor: count each storage once
    weight_bytes = sum({p.data_ptr(): p.numel() * p.element_size() for p in static_model.parameters()}.values())
    bw = bandwidth_gbs()
    print(f"model {args.route}: {weight_bytes / 1e6:.0f} MB of weights, {args.threads} threads; "
          f"memory bandwidth {bw:.1f} GB/s -> batch-1 bound {weight_bytes / bw / 1e6:.1f} ms/token")
    print(f"workload: {args.prompt_tokens}-token prompts, {args.new_tokens} new tokens, sampling {SAMPLING}; "
          f"medians over {args.repeats} repeats (naive: {args.naive_repeats})\n")
    head = f"{'conc':>4} {'way':<7} {'tok/s':>8} {'TTFT p50':>9} {'TTFT p90':>9} {'ITL p50':>8} {'ITL p90':>8}"
    print(head)
    print("-" * len(head))
    results = {}
    for c in args.concurrency:
        ps = prompts(tok, c, args.prompt_tokens)
        ways = [("engine", lambda: run_engine(engine, ps, args.new_tokens), args.repeats),
                ("static", lambda: run_static(static_model, ps, args.new_tokens), args.repeats)]
        if hf is not None:
            ways.insert(0, ("naive", lambda: run_naive(hf, tok, ps, args.new_tokens), args.naive_repeats))
        run_static(static_model, ps[:1], 4)  # warm-up
        runs = {name: [] for name, _, _ in ways}
        # Round-robin over the ways so a slow spell of this shared machine
        # hits each of them alike.
        for rep in range(max(r for _, _, r in ways)):
            for name, fn, reps in ways:
                if rep < reps:
                    runs[name].append(fn())
        for name, _, _ in ways:
            med = {k: statistics.median(r[k] for r in runs[name]) for k in runs[name][0]}
            results[(c, name)] = med
            print(f"{c:>4} {name:<7} {med['tok_s']:>8.1f} {med['ttft50'] * 1e3:>7.0f}ms {med['ttft90'] * 1e3:>7.0f}ms "
                  f"{med['itl50'] * 1e3:>6.0f}ms {med['itl90'] * 1e3:>6.0f}ms", flush=True)
    print("\nratios (engine throughput):")
    for c in args.concurrency:
        e = results[(c, "engine")]["tok_s"]
        parts = [f"{e / results[(c, 'static')]['tok_s']:.2f}x static"]
        if (c, "naive") in results:
            parts.insert(0, f"{e / results[(c, 'naive')]['tok_s']:.1f}x naive")
        print(f"  {c:>3} concurrent: " + ", ".join(parts))
    if 1 in args.concurrency:
        step = results[(1, "engine")]["itl50"]
        bound = weight_bytes / bw / 1e9
        print(f"  batch 1: engine step {step * 1e3:.1f} ms vs bandwidth bound {bound * 1e3:.1f} ms "
              f"= {bound / step:.0%} of the bound")
    engine.stop()


if __name__ == "__main__":
    main()
