"""Long drafts, as writers have them: this engine (fp32 weights; the
fbgemm fp16 weights `fp16_weights: auto` serves with on x86; those with the
compiled decode step `compile_decode: auto` adds; those with the bf16
prompt chunks `prefill_dtype: auto` adds on CPUs with native bf16 matmuls;
the 4-bit decode weights `int4_weights: auto` adds on AVX-512 CPUs; and a
bf16 KV cache, `kv_dtype: bfloat16`, which auto does not take; and "int4 +
copied prompts", the engine before alternatives shared a long prompt) against an earlier
revision, side by side in one run, each variant in a fresh process, repeats
interleaved. Each variant is a set of registry settings, applied by
`service.speed_up` as the server applies them.

For each variant, on the embedded model (context 2,048):
  * cold prefill of a ~2,000-token draft: time to first token and prompt tokens/s;
  * first token on a 3-word continuation of that draft, cached (same writer);
  * KV bytes that continuation added, and where they went (in place, or copied);
  * batch-1 decode tokens/s, on a short prompt and continuing the long draft;
  * 8 writers continuing 1,500-3,000-word drafts at once (each cached):
    time to first token p50 / p90; then all 8 again as the editor asks, 3
    alternatives of 24 tokens each: first token p50 / p90 and throughput;
  * 32 writers on short drafts at once: throughput;
  * drafts of 2,000 tokens the default cache budget holds.

    .venv/bin/python -m benchmarks.long_drafts [--baseline 0f85937|none] [--repeats 3]
        [--variants "fp16 + compiled,+ bf16 prefill"]

The baseline is a git revision whose `microservices/` is unpacked to a
temporary folder and imported from there in its own process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("the harbour town woke slowly while fishermen mended their nets along quay and gulls argued over scraps "
         "baker's boy ran between houses with a basket of warm loaves she opened the letter read it twice then "
         "folded it into her coat pocket before walking down to water where boats rocked against tide").split()


# this tree's variants -> registry speed settings; each adds to the one before
# it; "+ int4 weights" is what service.build serves with on an AVX-512 CPU
# with bf16 matmuls (the ones before, what it serves with on lesser x86
# CPUs), "+ bf16 KV" what kv_dtype: bfloat16 adds to that
PLAIN = {"prefill_dtype": "float32", "fp16_weights": "off", "int4_weights": "off", "kv_dtype": "float32",
         "compile_decode": "off"}
VARIANTS = {"fp32": PLAIN}
for _name, _change in [("fp16 weights", {"fp16_weights": "on"}), ("fp16 + compiled", {"compile_decode": "on"}),
                       ("+ bf16 prefill", {"prefill_dtype": "bfloat16"}), ("+ int4 weights", {"int4_weights": "auto"}),
                       ("+ bf16 KV", {"kv_dtype": "bfloat16"})]:
    VARIANTS[_name] = {**VARIANTS[list(VARIANTS)[-1]], **_change}
# what the engine did before alternatives shared a long prompt: each its own copy
VARIANTS["int4 + copied prompts"] = {**VARIANTS["+ int4 weights"], "engine": {"share_prompt_from": 1 << 30}}


def draft(words: int, seed: int) -> str:
    import random

    rng = random.Random(seed)
    out, sentence = [], []
    for _ in range(words):
        sentence.append(rng.choice(WORDS))
        if len(sentence) > rng.randint(8, 20):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    return " ".join(out + [" ".join(sentence)])


def worker(src: str, threads: int, settings: dict | None = None) -> dict:
    """Runs in its own process with `src` first on sys.path; `settings`: the
    registry speed settings this tree's service.speed_up applies (a baseline
    revision runs as it is)."""
    sys.path.insert(0, src)
    import torch

    from microservices.engine import engine as eng
    from microservices.engine.loader import load_model, load_tokenizer

    # As service.build does: load on one thread, forwards on the engine
    # thread with `threads` (an OpenMP team left here throttles the engine's).
    torch.set_num_threads(1)
    # Whatever the engine of `src` itself samples with: older revisions call it
    # Params; later ones import SamplingParams (first from microservices/, then contract/).
    params_cls = getattr(eng, "Params", None) or eng.SamplingParams
    folder = ROOT / "models" / "smollm2-135m"  # converted by scripts/setup
    tok = load_tokenizer(folder)
    kw = dict(routes={"b": 0}, max_batch=32, context=2048, threads=threads)
    if "prefix_cache_mb" in eng.Engine.__init__.__code__.co_varnames:
        kw["prefix_cache_mb"] = 512 if params_cls.__name__ == "Params" else 3072
    model = load_model(folder, "cpu")
    compiled = bool(settings) and settings["compile_decode"] == "on"
    kw.update((settings or {}).pop("engine", {}))
    if settings:
        from contract.registry import Model
        from microservices.server.service import speed_up

        speed_up(model, Model(route="b", name="bench", **settings))
    engine = eng.Engine(model, tok, **kw)
    out = {}
    t0 = time.perf_counter()
    engine.start()
    if compiled:  # the engine thread compiles before it serves, as in the server (not in the figures)
        while model.decode_graph is not None and not model.decode_graph.ready:
            time.sleep(0.2)
        if model.decode_graph is None:
            sys.exit("compiling the decode step failed (see the log above)")
        out["compile_s"] = time.perf_counter() - t0
    new_api = hasattr(engine, "pool")

    def run(prompt: str, writer: str, max_tokens: int = 8, n: int = 1) -> dict:
        got, done = {}, threading.Event()
        t0 = time.perf_counter()

        def emit(ev):
            ev = ev.to_wire() if hasattr(ev, "to_wire") else ev
            now = time.perf_counter()
            if ev["type"] == "token":
                got.setdefault("first", now - t0)
                got["last"] = now - t0
                got["tokens"] = got.get("tokens", 0) + 1
            else:
                got["usage"] = ev.get("usage", {})
                got["done"] = got.get("done", 0) + 1
                if got["done"] == n:
                    done.set()
        extra = {"writer": writer} if new_api else {}
        engine.submit(eng.Request(id=writer, route="b", prompt=prompt, emit=emit, **extra,
                                  params=params_cls(max_tokens=max_tokens, temperature=0, n=n)))
        done.wait()
        return got

    doc = draft(1500, 1)  # ~2,000 tokens after windowing
    cold = run(doc, "w1")
    out["cold_ttft"] = cold["first"]
    out["cold_tokens"] = cold["usage"]["prompt_tokens"]
    hit = run(doc + " And then she", "w1")
    out["hit_ttft"] = hit["first"]
    new_tokens = hit["usage"]["prompt_tokens"] - hit["usage"]["cached_tokens"]
    a = engine.model.args
    kv_dtype = getattr(engine.model, "cache_dtype", engine.model.output.weight.dtype)  # (older revisions: the model's)
    per_token = 2 * a.n_layer * a.n_kv_head * a.head_dim * kv_dtype.itemsize
    out["hit_new_kv_bytes"] = new_tokens * per_token
    # the old cache stored a copy of every prompt; the slots compute in place
    out["hit_copied_kv_bytes"] = 0 if new_api else hit["usage"]["cached_tokens"] * per_token * 2
    def decode_rate(prompt: str, writer: str) -> float:  # median of three streams (a VM's hiccup hits one)
        rates = []
        for _ in range(3):
            got = run(prompt, writer, max_tokens=64)
            rates.append((got["tokens"] - 1) / (got["last"] - got["first"]))
        return statistics.median(rates)
    out["decode_tok_s"] = decode_rate("Once upon a time", "w2")
    out["decode_long_tok_s"] = decode_rate(doc + " And then she turned", "w1")
    if new_api:
        out["drafts_held"] = len(engine.pool.slots) - engine.max_batch
    else:
        out["drafts_held"] = int(512 * 2**20 // (2000 * per_token + 2000 * 8))
    # 8 writers: open (cold), then all continue at once
    docs = [draft(1500 + 200 * i, 10 + i) for i in range(8)]
    ts = [threading.Thread(target=run, args=(d, f"x{i}", 1)) for i, d in enumerate(docs)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    res = [None] * 8

    def cont(i):
        res[i] = run(docs[i] + " The light", f"x{i}", 8)["first"]
    ts = [threading.Thread(target=cont, args=(i,)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    res.sort()
    out["eight_ttft_p50"], out["eight_ttft_p90"] = res[3], res[7]
    # the same writers as the editor asks: 3 alternatives of 24 tokens each
    alts = [None] * 8

    def cont3(i):
        alts[i] = run(docs[i] + " The light was", f"x{i}", 24, n=3)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=cont3, args=(i,)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    out["alts_tok_s"] = sum(a["tokens"] for a in alts) / (time.perf_counter() - t0)
    firsts = sorted(a["first"] for a in alts)
    out["alts_ttft_p50"], out["alts_ttft_p90"] = firsts[3], firsts[7]
    # and short ones: 32 writers with 60-word prompts, 64 new tokens each
    outs = [None] * 32

    def short_run(i):
        outs[i] = run(draft(60, 100 + i), f"s{i}", 64)
    t0 = time.perf_counter()
    ts = [threading.Thread(target=short_run, args=(i,)) for i in range(32)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    out["short32_tok_s"] = sum(o["tokens"] for o in outs) / (time.perf_counter() - t0)
    engine.stop()
    return out


def unpack(rev: str) -> str:
    dest = tempfile.mkdtemp(prefix=f"writeup-{rev}-")
    paths = ["microservices", "config"]
    # The shared contract left microservices/ for its own package (issue 15).
    if subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", f"{rev}:contract"], capture_output=True).returncode == 0:
        paths.append("contract")
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, *paths], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", dest], input=archive, check=True)
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="0f85937", help="git revision to compare against ('none': skip it)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--settings", type=json.loads, help=argparse.SUPPRESS)
    ap.add_argument("--variants", help="comma-separated names of this tree's variants to run (default: all): "
                    + ", ".join(VARIANTS))
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.threads, args.settings)))
        return
    variants = {} if args.baseline == "none" else {f"baseline {args.baseline}": (unpack(args.baseline), None)}
    chosen = args.variants.split(",") if args.variants else list(VARIANTS)
    unknown = set(chosen) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}: choose from {list(VARIANTS)}")
    variants.update({name: (str(ROOT), VARIANTS[name]) for name in chosen})
    runs = {v: [] for v in variants}
    for rep in range(args.repeats):
        for name, (src, settings) in variants.items():
            flags = ["--settings", json.dumps(settings)] if settings else []
            p = subprocess.run([sys.executable, "-m", "benchmarks.long_drafts", "--worker", src, *flags,
                                "--threads", str(args.threads)], cwd=ROOT, capture_output=True, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
            if p.returncode:
                sys.exit(f"{name} failed:\n{p.stderr[-3000:]}")
            runs[name].append(json.loads(p.stdout.strip().splitlines()[-1]))
    med = {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in runs.items()}
    rows = [("cold prefill, first token", "cold_ttft", lambda x: f"{x * 1e3:.0f} ms"),
            ("cold prefill, prompt tokens/s", None, None),
            ("3-word continuation of the cached draft, first token", "hit_ttft", lambda x: f"{x * 1e3:.0f} ms"),
            ("KV the continuation computed", "hit_new_kv_bytes", lambda x: f"{x / 2**20:.1f} MB"),
            ("KV copied for the hit (in and out of the cache)", "hit_copied_kv_bytes", lambda x: f"{x / 2**20:.0f} MB"),
            ("batch-1 decode", "decode_tok_s", lambda x: f"{x:.1f} tok/s"),
            ("batch-1 decode continuing the long draft", "decode_long_tok_s", lambda x: f"{x:.1f} tok/s"),
            ("8 writers continuing long drafts, first token p50", "eight_ttft_p50", lambda x: f"{x * 1e3:.0f} ms"),
            ("8 writers continuing long drafts, first token p90", "eight_ttft_p90", lambda x: f"{x * 1e3:.0f} ms"),
            ("8 writers, 3 alternatives of 24 tokens each: first token p50", "alts_ttft_p50", lambda x: f"{x * 1e3:.0f} ms"),
            ("8 writers, 3 alternatives of 24 tokens each: first token p90", "alts_ttft_p90", lambda x: f"{x * 1e3:.0f} ms"),
            ("8 writers, 3 alternatives of 24 tokens each: throughput", "alts_tok_s", lambda x: f"{x:.0f} tok/s"),
            ("32 writers on 60-word drafts, 64 tokens each: throughput", "short32_tok_s", lambda x: f"{x:.0f} tok/s"),
            ("2,000-token drafts the default cache holds", "drafts_held", lambda x: f"{x:.0f}"),
            ("compiling the decode step at start (not in the figures)", "compile_s", lambda x: f"{x:.0f} s")]
    names = list(variants)
    print(f"SmolLM2-135M fp32, {args.threads} threads, context 2,048; medians over {args.repeats} repeats "
          f"(draft: {med[names[-1]]['cold_tokens']:.0f} tokens after windowing)\n")
    print(f"{'figure':<56}" + "".join(f"{n:>25}" for n in names))
    for label, key, fmt in rows:
        if key is None:
            vals = [med[n]["cold_tokens"] / med[n]["cold_ttft"] for n in names]
            print(f"{label:<56}" + "".join(f"{v:>25.0f}" for v in vals))
            continue
        print(f"{label:<56}" + "".join(f"{fmt(med[n][key]) if key in med[n] else '':>25}" for n in names))


if __name__ == "__main__":
    main()
