"""How much of a long draft does the model need to see? Perplexity of the
next 128 tokens of real long text given the last L tokens before them, for
several L, on each genre's held-out works (text no adapter trained on).

A suggestion's cost on a cold draft is its prefill, which grows with the
window the engine keeps (`limits.context` in config/models.yaml). This
prints what a smaller window costs in quality, so the window is chosen from
a measurement: perplexity per window and its ratio to the longest.

    .venv/bin/python -m benchmarks.context_window [--pieces 3] [--threads 2]

Needs the corpora (`python -m genres corpus all`) and models/smollm2-135m.
"""
from __future__ import annotations

import math
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from benchmarks import cli
from genres import corpora, perplexity

MODEL = "models/smollm2-135m"
TARGET = 128  # the tokens scored: what a suggestion would continue with
WINDOWS = (256, 512, 768, 1024, 1536, 1920)


def pieces(ids: torch.Tensor, count: int) -> list[torch.Tensor]:
    """`count` evenly spread stretches of the longest window plus the target."""
    length = WINDOWS[-1] + TARGET
    starts = range(0, len(ids) - length, max(1, (len(ids) - length) // count))
    return [ids[s : s + length] for s in list(starts)[:count]]


@torch.inference_mode()
def nll(model, piece: torch.Tensor, window: int) -> float:
    """Mean negative log-likelihood of the piece's last TARGET tokens given `window` tokens before them."""
    x = piece[-(window + TARGET):].unsqueeze(0)
    logits = model(input_ids=x).logits[0, -TARGET - 1 : -1].float()
    return torch.nn.functional.cross_entropy(logits, x[0, -TARGET:]).item()


def main() -> None:
    ap = cli.parser(__doc__, repeats=1)
    ap.add_argument("--pieces", type=int, default=3, help="stretches per genre")
    args = cli.parse(ap)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32).eval()
    rows: dict[str, dict[int, float]] = {}
    t0 = time.perf_counter()
    for genre in corpora.GENRES:
        path = corpora.corpus_dir(genre) / "heldout.txt"
        if not path.exists():
            print(f"{genre}: no {path} (python -m genres corpus all); skipped", flush=True)
            continue
        ids = perplexity.tokenize(tokenizer, path.read_text())
        got = pieces(ids, args.pieces)
        rows[genre] = {w: math.exp(statistics.mean(nll(model, p, w) for p in got)) for w in WINDOWS}
        print(f"{genre}: {len(got)} stretches, {time.perf_counter() - t0:.0f} s", flush=True)
    if not rows:
        raise SystemExit("no held-out text found")
    longest = WINDOWS[-1]
    print(f"\nperplexity of the next {TARGET} tokens given the last L tokens (ratio to L={longest})\n")
    print("| genre | " + " | ".join(f"L={w}" for w in WINDOWS) + " |")
    print("|---|" + "---|" * len(WINDOWS))
    for genre, by_window in rows.items():
        cells = [f"{by_window[w]:.2f} ({by_window[w] / by_window[longest]:.3f})" for w in WINDOWS]
        print(f"| {genre} | " + " | ".join(cells) + " |")
    mean_ratio = {w: statistics.mean(r[w] / r[longest] for r in rows.values()) for w in WINDOWS}
    print("| mean ratio | " + " | ".join(f"{mean_ratio[w]:.3f}" for w in WINDOWS) + " |")


if __name__ == "__main__":
    main()
