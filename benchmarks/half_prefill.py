"""Half-precision matmuls against fp32, side by side on the embedded model:
bf16 for prompt chunks (`prefill_dtype`), fbgemm's prepacked fp16 weights
for decode rows and short chunks (`fp16_weights`), and 4-bit weights for
decode rows (`int4_weights`; exact for the embedded model's Q4_1 weights,
so what moves is the bf16 rounding of activations), and a bf16 KV cache
(`kv_dtype`: keys and values rounded, attention in fp32).

Prints, medians over repeats, each variant timed in turn:
  * cold prefill tokens/s of a ~2,000-token draft (256-token chunks);
  * one decode step at the end of that draft, for 1 and for 8 rows, and a
    12-token chunk on it (a few typed words, cached draft);
  * drift: mean |logit difference|, the share of positions whose top token
    agrees, and perplexity (fp32 against each variant) on English text
    shipped in this repo (its docs), for the base model and every shipped
    genre adapter, computed in the chunk size that takes each variant's path.

bf16 pays only where the CPU has native bf16 matmuls (AMX tiles or AVX-512
BF16) or on a GPU; `prefill_dtype: auto` turns it on there and nowhere else. fp16 weights need fbgemm (x86);
`fp16_weights: auto` turns them on for fp32 models on such CPUs.

    .venv/bin/python -m benchmarks.half_prefill [--repeats 3] [--tokens 2000]
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch

from microservices.engine import adapters
from microservices.engine.loader import cpu_bf16_matmul, load_model, load_tokenizer
from microservices.engine.model import LoRARows, Segments
from microservices.server.service import HALF_MIN_ROWS, INT4_MAX_ROWS, PACKED_MAX_ROWS

from . import cli

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "models" / "smollm2-135m"
# variant -> (how to set the model up, the prefill chunk whose matmuls take its path)
VARIANTS = {
    "fp32": (lambda m: None, 256),
    "bf16 prefill": (lambda m: m.use_half_prefill(torch.bfloat16, min_rows=HALF_MIN_ROWS), 256),
    "fp16 weights": (lambda m: m.use_packed_fp16(max_rows=PACKED_MAX_ROWS), 32),
    # as service.build serves decode rows where int4_weights: auto is on (genres unmerged, as served)
    "int4 weights": (lambda m: (m.use_packed_fp16(max_rows=PACKED_MAX_ROWS), m.use_int4_weights(INT4_MAX_ROWS)), 8),
    "bf16 KV": (lambda m: m.use_kv_dtype(torch.bfloat16), 256),
}


def text() -> str:
    return "\n\n".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))


def prefill(model, ids: torch.Tensor, chunk: int = 256, slot: int = 0) -> torch.Tensor:
    """Logits of every position, computed a chunk at a time into `slot`
    (through the model's one installed adapter, if it has one)."""
    out = []
    for start in range(0, len(ids), chunk):
        piece = ids[start:start + chunk]
        lora = LoRARows([1] * len(piece), 1, "cpu", torch.float32) if getattr(model, "unmerged", False) else None
        out.append(model(piece, Segments([slot], [start], [len(piece)]), lora))
    return torch.cat(out)


def perplexity(logits: torch.Tensor, ids: torch.Tensor) -> float:
    return float(torch.nn.functional.cross_entropy(logits[:-1].float(), ids[1:]).exp())


def model_for(variant: str, adapter: Path | None, slots: int, max_seq: int):
    m = load_model(FOLDER, "cpu")
    if adapter is not None and variant == "int4 weights":  # LoRA over the 4-bit base, as served
        adapters.install(m, [adapter])
        m.unmerged = True
    elif adapter is not None:
        adapters.merge(m, adapter)
    VARIANTS[variant][0](m)
    m.setup_cache(slots, max_seq)
    return m


def timed(f, n: int) -> float:
    f()
    t0 = time.perf_counter()
    for _ in range(n):
        f()
    return (time.perf_counter() - t0) / n


def speed(models: dict, ids: torch.Tensor, repeats: int) -> dict[str, dict[str, list[float]]]:
    n = len(ids)
    for m in models.values():  # eight slots hold the draft: the decode rows' context
        prefill(m, ids, slot=0)
        for layer in m.layers:
            for slot in range(1, 8):
                layer.attention.cache.copy_range(0, slot, 0, n)
    out = {v: {"prefill tok/s": [], "decode 1 row ms": [], "decode 8 rows ms": [], "12-token chunk ms": []} for v in models}
    for _ in range(repeats):
        for v, m in models.items():
            t0 = time.perf_counter()
            prefill(m, ids, slot=8)
            out[v]["prefill tok/s"].append(n / (time.perf_counter() - t0))
            out[v]["decode 1 row ms"].append(1000 * timed(lambda: m(ids[:1], Segments([0], [n], [1])), 8))
            out[v]["decode 8 rows ms"].append(1000 * timed(lambda: m(ids[:8], Segments(list(range(8)), [n] * 8, [1] * 8)), 5))
            out[v]["12-token chunk ms"].append(1000 * timed(lambda: m(ids[:12], Segments([1], [n], [12]), logits_at=torch.tensor([11])), 5))
    return out


def main():
    ap = cli.parser(__doc__, repeats=3)
    ap.add_argument("--tokens", type=int, default=2000)
    args = cli.parse(ap)
    torch.set_grad_enabled(False)
    tok = load_tokenizer(FOLDER)
    ids = torch.tensor(tok(text(), add_special_tokens=False)["input_ids"][:args.tokens])
    print(f"SmolLM2-135M, {args.threads} threads, {len(ids)} tokens of docs/*.md; native bf16 matmuls: {cpu_bf16_matmul() or 'none'}; "
          f"fbgemm: {'fbgemm' in torch.backends.quantized.supported_engines}\n")
    figures = speed({v: model_for(v, None, 9, len(ids) + 13) for v in VARIANTS}, ids, args.repeats)
    print(f"{'figure':<20}" + "".join(f"{v:>15}" for v in VARIANTS))
    for figure in figures["fp32"]:
        med = {v: statistics.median(figures[v][figure]) for v in VARIANTS}
        print(f"{figure:<20}" + "".join(f"{med[v]:>9.1f} {med[v] / med['fp32']:4.2f}x" for v in VARIANTS))

    routes = {"base": None, **{p.name: p for p in sorted((ROOT / "adapters").iterdir()) if (p / "adapter_config.json").exists()}}
    print(f"\n{'route':<12} {'variant':<13} {'mean |dlogit|':>14} {'top-1 agrees':>13} {'ppl fp32':>9} {'ppl':>8} {'ppl change':>11}")
    for route, adapter in routes.items():
        ref = prefill(model_for("fp32", adapter, 1, len(ids) + 1), ids)
        p32 = perplexity(ref, ids)
        for v in list(VARIANTS)[1:]:
            got = prefill(model_for(v, adapter, 1, len(ids) + 1), ids, chunk=VARIANTS[v][1])
            p = perplexity(got, ids)
            print(f"{route:<12} {v:<13} {(ref - got).abs().mean().item():>14.4f} "
                  f"{(ref.argmax(-1) == got.argmax(-1)).float().mean().item():>12.1%} {p32:>9.2f} {p:>8.2f} {(p - p32) / p32:>+10.2%}")


if __name__ == "__main__":
    main()
