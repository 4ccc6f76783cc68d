"""Four genres on one model copy versus the base model alone, side by side.

Each variant runs in a fresh child process (so its resident memory is its
own): `base` serves 32 concurrent streams on the base model; `mixed` serves
32 streams spread over the base and LoRA genre adapters in the same batches.
Uses the shipped genre adapters of the route's base when there are at least
four, otherwise four random rank-16 adapters of the same shape.

    .venv/bin/python -m benchmarks.genre_mix [--streams 32] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from contract import registry
from microservices import weights

PROMPT = ("The lighthouse stood at the end of the long spit of land, and every evening the keeper climbed its "
          "hundred and twelve steps to light the lamp.")


def adapter_dirs(base_route: str, want: int = 4) -> list[Path]:
    reg = registry.load()
    shipped = [m.resolve(m.adapter.path) for m in reg.models.values()
               if m.base == base_route and m.adapter and m.resolve(m.adapter.path).exists()]
    if len(shipped) >= want:
        return shipped[:want]
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = Path(tempfile.mkdtemp(prefix="writeup-bench-adapters-"))
    folder = weights.model_dir(reg.models[base_route])
    dirs = []
    for i in range(want):
        torch.manual_seed(i)
        model = get_peft_model(AutoModelForCausalLM.from_pretrained(folder), LoraConfig(
            r=16, lora_alpha=32, init_lora_weights=False, target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                            "gate_proj", "up_proj", "down_proj"]))
        model.save_pretrained(out / f"g{i}")
        dirs.append(out / f"g{i}")
    return dirs


def rss_mb() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def child(variant: str, route: str, streams: int, new: int, threads: int, adapters: list[str]) -> dict:
    from microservices.engine import adapters as lora
    from contract.sampling_params import SamplingParams as Params
    from microservices.engine.engine import Engine, Request
    from microservices.engine.loader import load_model, load_tokenizer

    torch.set_num_threads(threads)
    folder = weights.model_dir(registry.load().base_of(route))
    model = load_model(folder, "cpu")
    routes = {"base": 0}
    if variant == "mixed":
        lora.install(model, [Path(a) for a in adapters])
        routes.update({f"g{i}": i + 1 for i in range(len(adapters))})
    tok = load_tokenizer(folder)
    engine = Engine(model, tok, routes=routes, max_batch=streams, max_queue=4 * streams, context=256,
                    prefix_cache_mb=0, threads=threads, n_adapters=len(routes) - 1, writer_max_seqs=streams)
    engine.eos = set()
    engine.start()
    ids = tok(PROMPT, add_special_tokens=False)["input_ids"]
    names = list(routes)
    runs = []
    for rep in range(2):  # the first is warm-up
        left = threading.Semaphore(0)
        count = [0]

        def emit(ev):
            ev = ev.to_wire()
            if ev["type"] == "done":
                count[0] += ev["usage"]["completion_tokens"]
                left.release()

        t0 = time.perf_counter()
        for i in range(streams):
            route = names[i % len(names)]
            engine.submit(Request(id=str(i), route=route, adapter=routes[route], prompt="", prompt_ids=ids, emit=emit,
                                  params=Params(max_tokens=new, temperature=0.8)))
        for _ in range(streams):
            left.acquire()
        runs.append(count[0] / (time.perf_counter() - t0))
    engine.stop()
    rss, peak = rss_mb()
    return {"tok_s": runs[-1], "rss_mb": rss, "peak_mb": peak}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--route", default="smollm2")
    ap.add_argument("--streams", type=int, default=32)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=["base", "mixed"], help=argparse.SUPPRESS)
    ap.add_argument("--adapters", nargs="*", default=[], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.route, args.streams, args.new_tokens, args.threads, args.adapters)))
        return
    dirs = adapter_dirs(args.route)
    print(f"model {args.route}: {args.streams} concurrent streams, {args.new_tokens} new tokens, {args.threads} threads; "
          f"mixed = base + {len(dirs)} adapters ({', '.join(d.name for d in dirs)}); medians over {args.repeats} repeats\n")
    results = {"base": [], "mixed": []}
    for _ in range(args.repeats):
        for variant in ("base", "mixed"):  # alternate so drifts in machine speed hit both
            out = subprocess.run([sys.executable, "-m", "benchmarks.genre_mix", "--child", variant, "--route", args.route,
                                  "--streams", str(args.streams), "--new-tokens", str(args.new_tokens),
                                  "--threads", str(args.threads), "--adapters", *map(str, dirs)],
                                 capture_output=True, text=True, check=True)
            results[variant].append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {v: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for v, rs in results.items()}
    print(f"{'variant':<8} {'tok/s':>8} {'RSS MB':>8} {'peak MB':>8}")
    for v in ("base", "mixed"):
        print(f"{v:<8} {med[v]['tok_s']:>8.1f} {med[v]['rss_mb']:>8.0f} {med[v]['peak_mb']:>8.0f}")
    print(f"\nmixed/base throughput: {med['mixed']['tok_s'] / med['base']['tok_s']:.0%}")
    print(f"mixed/base resident memory: {med['mixed']['rss_mb'] / med['base']['rss_mb']:.2f}x "
          f"(one instance per genre would be {len(dirs) + 1}x)")


if __name__ == "__main__":
    main()
