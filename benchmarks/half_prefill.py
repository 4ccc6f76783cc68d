"""bf16 matmuls for prompt chunks against fp32, side by side on the embedded model.

Prints, medians over repeats:
  * cold prefill tokens/s of a ~2,000-token draft, fp32 and bf16-prefill;
  * drift: mean |logit difference|, the share of positions whose top token
    agrees, and perplexity (fp32 vs bf16) on English text shipped in this
    repo (its docs), for the base model and every shipped genre adapter.

bf16 pays only where the CPU has AMX tiles (or on a GPU); `prefill_dtype:
auto` in the registry turns it on there and nowhere else.

    .venv/bin/python -m benchmarks.half_prefill [--repeats 3] [--tokens 2000]
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from microservices.engine import adapters
from microservices.engine.loader import cpu_has_amx, load_model, load_tokenizer
from microservices.engine.model import Segments

from . import cli

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "models" / "smollm2-135m"


def text() -> str:
    return "\n\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def prefill(model, ids: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """Logits of every position, computed a chunk at a time into slot 0."""
    out = []
    for start in range(0, len(ids), chunk):
        piece = ids[start:start + chunk]
        out.append(model(piece, Segments([0], [start], [len(piece)])))
    return torch.cat(out)


def perplexity(logits: torch.Tensor, ids: torch.Tensor) -> float:
    return float(torch.nn.functional.cross_entropy(logits[:-1].float(), ids[1:]).exp())


def main():
    ap = cli.parser(__doc__, repeats=3)
    ap.add_argument("--tokens", type=int, default=2000)
    args = cli.parse(ap)
    torch.set_grad_enabled(False)
    tok = load_tokenizer(FOLDER)
    ids = torch.tensor(tok(text(), add_special_tokens=False)["input_ids"][:args.tokens])
    routes = {"base": None, **{p.name: p for p in sorted((ROOT / "adapters").iterdir()) if (p / "adapter_config.json").exists()}}
    print(f"SmolLM2-135M, {args.threads} threads, {len(ids)} tokens of docs/*.md; AMX on this CPU: {cpu_has_amx()}\n")
    speed = {"fp32": [], "bf16": []}
    drift = {}
    for route, adapter in routes.items():
        fp32 = load_model(FOLDER, "cpu")
        if adapter is not None:
            adapters.merge(fp32, adapter)
        fp32.setup_cache(1, len(ids) + 1)
        half = load_model(FOLDER, "cpu")
        if adapter is not None:
            adapters.merge(half, adapter)
        half.use_half_prefill(torch.bfloat16)
        half.setup_cache(1, len(ids) + 1)
        reps = args.repeats if route == "base" else 1
        for _ in range(reps):
            for name, m in (("fp32", fp32), ("bf16", half)):
                t0 = time.perf_counter()
                logits = prefill(m, ids)
                if route == "base":
                    speed[name].append(len(ids) / (time.perf_counter() - t0))
                if name == "fp32":
                    a = logits
                else:
                    b = logits
        drift[route] = ((a - b).abs().mean().item(), (a.argmax(-1) == b.argmax(-1)).float().mean().item(),
                        perplexity(a, ids), perplexity(b, ids))
    f, h = statistics.median(speed["fp32"]), statistics.median(speed["bf16"])
    print(f"cold prefill: fp32 {f:.0f} tok/s, bf16 prefill {h:.0f} tok/s ({h / f:.2f}x)\n")
    print(f"{'route':<12} {'mean |dlogit|':>14} {'top-1 agrees':>13} {'ppl fp32':>9} {'ppl bf16':>9} {'ppl change':>11}")
    for route, (d, agree, p32, p16) in drift.items():
        print(f"{route:<12} {d:>14.4f} {agree:>12.1%} {p32:>9.2f} {p16:>9.2f} {(p16 - p32) / p32:>+10.2%}")


if __name__ == "__main__":
    main()
