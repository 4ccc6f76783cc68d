"""python -m genres: build corpora, fine-tune genre models, register routes.

  python -m genres corpus shakespeare|all
  python -m genres corpus my-genre --from a.txt b.txt --license "CC0-1.0"
  python -m genres finetune shakespeare --steps 60 --seed 0 [--full] [--resume] [--register]
  python -m genres finetune shakespeare --minutes 12 --eval-every 10   # to a time budget, best point of the curve
  python -m genres register shakespeare
  python -m genres perplexity shakespeare [--adapter adapters/shakespeare]
  python -m genres table
  python -m genres evaluate [--write-docs] [--json out.json]   # perplexity, classifier and generated-text tables
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. On
# this shared 2-core machine a spinning run used ~35 s of CPU per step and took
# ~56 s a step; a passive one ~13 s a step (other jobs running in both cases).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from genres import card, corpora, finetune, register  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]


def cmd_corpus(a) -> int:
    if a.from_files:
        meta = corpora.build_from_files(a.genre, [Path(f) for f in a.from_files], a.license or "unknown",
                                        title=a.name or "", description=a.description or "", prose=a.prose,
                                        heldout=[Path(f) for f in a.heldout or []])
        _print_corpus(meta)
        return 0
    names = list(corpora.GENRES) if a.genre == "all" else [a.genre]
    for name in names:
        _print_corpus(corpora.build(name))
    return 0


def _print_corpus(meta: dict) -> None:
    pk = ", ".join(f"{p['name']} {p['version']}".strip() for p in meta["packages"])
    print(f"{meta['genre']}: train {meta['chars']['train']:,} chars, valid {meta['chars']['valid']:,} chars "
          f"({meta['split']['unit_count']['valid']} of {sum(meta['split']['unit_count'].values())} units), "
          f"held-out works {', '.join(meta['heldout']['works']) or 'none'} {meta['chars']['heldout']:,} chars from {pk}")


def _settings(a) -> finetune.Settings:
    genre = corpora.GENRES.get(a.genre)
    if a.minutes is not None and a.minutes <= 0:
        raise SystemExit(f"--minutes must be positive, not {a.minutes}")
    if a.eval_every < 0:
        raise SystemExit(f"--eval-every must be 0 (no curve) or a number of steps, not {a.eval_every}")
    # With a time budget the steps are only a cap: train until the time is spent.
    steps = a.steps if a.steps is not None else (100_000 if a.minutes else 60)
    kw = dict(genre=a.genre, steps=steps, seed=a.seed, minutes=a.minutes, eval_every=a.eval_every,
              curve_windows=a.curve_windows, anneal=a.anneal, full=a.full, batch_size=a.batch_size, seq_len=a.seq_len,
              lr=a.lr, rank=a.rank, dropout=a.dropout, alpha=a.alpha or 2 * a.rank, save_every=a.save_every, threads=a.threads,
              base=a.base, base_path=a.base_path, corpus_dir=a.corpus_dir, out_dir=a.out,
              eval_windows=a.eval_windows, eval_len=a.eval_len, warmup=a.warmup, dtype=a.dtype,
              sample_prompt=a.prompt if a.prompt is not None else (genre.prompt if genre else None))
    if a.targets:
        kw["targets"] = tuple(t.strip() for t in a.targets.split(",") if t.strip())
    return finetune.Settings(**kw)


def cmd_finetune(a) -> int:
    s = _settings(a)
    corpus, out, _ = s.paths()
    if not (corpus / "train.txt").exists():
        if a.genre not in corpora.GENRES:
            print(f"no corpus in {corpus}; build one with `python -m genres corpus {a.genre} --from FILES`", file=sys.stderr)
            return 2
        corpora.build(a.genre)
    result = finetune.train(s, resume=a.resume, progress=not a.no_progress)
    best = f" (best curve point: step {result.best_step})" if result.best_step is not None else ""
    print(f"{a.genre}: validation perplexity {result.base_ppl:.2f} -> {result.ppl:.2f} "
          f"({100 * result.reduction:.1f}% lower) after {result.steps} steps{best}, {result.tokens_seen:,} tokens, "
          f"{result.seconds + result.eval_seconds:.0f} s (stopped by {result.stopped}); wrote {out}")
    if a.register:
        _register(a.genre, out, s, a.registry)
    return 0


def _register(genre: str, out: Path, s: finetune.Settings, registry_path: str | None) -> None:
    source = json.loads((out / "training.json").read_text()).get("source", {}) if (out / "training.json").exists() else {}
    known = corpora.GENRES.get(genre)
    title = source.get("title") or (known.title if known else genre)
    description = source.get("description") or (known.description if known else "")
    rel = finetune.repo_relative(str(out))
    entry = (register.entry_for_full(title, genre, description, rel) if s.full
             else register.entry_for_adapter(title, genre, description, s.base, rel))
    changed = register.add_route(genre, entry, registry_path)
    print(f"registry: route {genre!r} {'added' if changed else 'already present'}")


def cmd_register(a) -> int:
    out = Path(a.adapter) if a.adapter else REPO_ROOT / "adapters" / a.genre
    if not (out / "adapter_config.json").exists() and not (out / "config.json").exists():
        print(f"{out} holds no adapter or model; train it first", file=sys.stderr)
        return 2
    s = finetune.Settings(genre=a.genre, base=a.base, full=(out / "config.json").exists())
    _register(a.genre, out, s, a.registry)
    return 0


def cmd_perplexity(a) -> int:
    import torch
    from genres import perplexity

    s = finetune.Settings(genre=a.genre, base=a.base, base_path=a.base_path, corpus_dir=a.corpus_dir, threads=a.threads)
    device = finetune.pick_device()
    if device.type == "cpu":
        torch.set_num_threads(s.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = finetune.base_folder(s)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).to(device)
    corpus, _, _ = s.paths()
    wins = perplexity.windows(perplexity.tokenize(tokenizer, (corpus / "valid.txt").read_text()), a.eval_len, a.eval_windows)
    print(f"base: {perplexity.perplexity(model, wins):.2f}")
    if a.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, a.adapter)
        print(f"{a.adapter}: {perplexity.perplexity(model, wins):.2f}")
    return 0


def cmd_table(a) -> int:
    """The shipped-genre table of docs/genres.md, from each adapter's training.json."""
    root = Path(a.adapters)
    print("| genre | route | base ppl | adapter ppl | reduction | steps | tokens seen | train time | sample (prompt → continuation) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in sorted(root.glob("*/training.json")):
        r = json.loads(path.read_text())
        s = r["settings"]
        prompt, text = card._one_line(r.get("sample_prompt") or ""), card._one_line(r.get("sample") or "")
        print(f"| {r['source'].get('title', s['genre'])} | `{s['genre']}` | {r['base_ppl']:.2f} | {r['ppl']:.2f} | "
              f"{100 * r['reduction']:.1f}% | {r['steps']} | {r['tokens_seen']:,} | {r['train_seconds'] / 60:.0f} min | "
              f"*{_md(prompt)}* → {_md(text)} |")
    return 0


def cmd_evaluate(a) -> int:
    from genres import evaluate

    if a.eval_windows < 1 or a.eval_len < 8:
        print(f"--eval-windows must be at least 1 and --eval-len at least 8 (got {a.eval_windows}, {a.eval_len})", file=sys.stderr)
        return 2
    if a.prompts is not None and a.prompts < 1:
        print(f"--prompts must be at least 1, not {a.prompts}", file=sys.stderr)
        return 2
    s = evaluate.Settings(genres=a.genres, adapters_dir=a.adapters, corpora_dir=a.corpora, base=a.base, base_path=a.base_path,
                          eval_windows=a.eval_windows, eval_len=a.eval_len, threads=a.threads, seed=a.seed,
                          new_tokens=a.new_tokens, train_chunks=a.train_chunks, test_chunks=a.test_chunks,
                          cache_dir=a.cache_dir)
    if a.prompts is not None:
        s.prompts = evaluate.NEUTRAL_PROMPTS[: a.prompts]
    try:
        report = evaluate.run(s, log=lambda m: print(m, file=sys.stderr, flush=True))
    except ValueError as e:
        print(str(e), file=sys.stderr)
        return 2
    print(evaluate.render(report))
    print(f"\n({report.seconds:.0f} s)")
    if a.json:
        Path(a.json).write_text(json.dumps(evaluate.as_json(report), indent=1) + "\n")
    if a.write_docs:
        evaluate.write_docs(report, Path(a.write_docs))
        print(f"wrote the evaluation section of {a.write_docs}", file=sys.stderr)
    return 0


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m genres", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("corpus", help="build var/corpora/<genre>/{train,valid}.txt and source.json")
    c.add_argument("genre", help=f"one of {', '.join(corpora.GENRES)}, 'all', or a new name with --from")
    c.add_argument("--from", dest="from_files", nargs="+", metavar="FILE", help="plain text files for a genre of your own")
    c.add_argument("--license", help="license of the --from text (recorded in source.json)")
    c.add_argument("--name", help="display name for a --from genre")
    c.add_argument("--description", help="one-line description for a --from genre")
    c.add_argument("--prose", action="store_true", help="join hard-wrapped lines of --from text into paragraphs")
    c.add_argument("--heldout", nargs="+", metavar="FILE", help="--from files to hold out whole (heldout.txt): works the adapter never sees")
    c.set_defaults(func=cmd_corpus)

    f = sub.add_parser("finetune", help="train adapters/<genre> (LoRA) or models/<genre> (--full)")
    f.add_argument("genre")
    f.add_argument("--steps", type=int, default=None, help="steps to train (default 60; with --minutes, a cap)")
    f.add_argument("--minutes", type=float, help="time budget: stop when training and curve evaluations have taken this long")
    f.add_argument("--eval-every", type=int, default=0, help="curve point every N steps; the best point's weights ship")
    f.add_argument("--curve-windows", type=int, default=16, help="validation windows each curve point is measured on")
    f.add_argument("--no-anneal", dest="anneal", action="store_false",
                   help="with --minutes, keep the learning rate constant instead of a cosine over the budget")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--full", action="store_true", help="update every weight instead of a LoRA adapter")
    f.add_argument("--resume", action="store_true", help="continue from var/finetune/<genre>/checkpoint")
    f.add_argument("--register", action="store_true", help="add the route to the model registry when done")
    f.add_argument("--batch-size", type=int, default=4)
    f.add_argument("--seq-len", type=int, default=256)
    f.add_argument("--lr", type=float, default=None, help="default 2e-3 (LoRA) or 5e-5 (full)")
    f.add_argument("--warmup", type=int, default=5)
    f.add_argument("--rank", type=int, default=8)
    f.add_argument("--dropout", type=float, default=0.05,
                   help="LoRA dropout in training (0 skips the masks: CPU random numbers cost ~20%% of a bf16 step)")
    f.add_argument("--alpha", type=int, default=None, help="default 2 x rank")
    f.add_argument("--targets", help=f"comma-separated module names (default {','.join(finetune.LLAMA_PROJECTIONS)})")
    f.add_argument("--save-every", type=int, default=10)
    f.add_argument("--eval-windows", type=int, default=64)
    f.add_argument("--eval-len", type=int, default=256)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                   help="training matmuls (weights and optimizer stay fp32); auto: bf16 on AMX, AVX-512 BF16 or CUDA")
    f.add_argument("--prompt", help="prompt for the model card's sample continuation")
    f.add_argument("--no-progress", action="store_true")
    _model_args(f)
    f.add_argument("--out", help="output folder (default adapters/<genre>, or models/<genre> with --full)")
    f.set_defaults(func=cmd_finetune)

    r = sub.add_parser("register", help="add an already trained genre to the model registry")
    r.add_argument("genre")
    r.add_argument("--adapter", help="folder (default adapters/<genre>)")
    r.add_argument("--base", default="smollm2")
    r.add_argument("--registry", help="registry file (default config/models.yaml or $WRITEUP_REGISTRY)")
    r.set_defaults(func=cmd_register)

    e = sub.add_parser("perplexity", help="validation perplexity of the base and, with --adapter, an adapter")
    e.add_argument("genre")
    e.add_argument("--adapter")
    e.add_argument("--eval-windows", type=int, default=64)
    e.add_argument("--eval-len", type=int, default=256)
    e.add_argument("--threads", type=int, default=2)
    _model_args(e, registry_flag=False)
    e.set_defaults(func=cmd_perplexity)

    t = sub.add_parser("table", help="print the markdown table of trained genres (for docs/genres.md)")
    t.add_argument("--adapters", default=str(REPO_ROOT / "adapters"))
    t.set_defaults(func=cmd_table)

    v = sub.add_parser("evaluate", help="perplexity (validation and held-out works), classifier accuracy, generated-text tables")
    v.add_argument("--genres", nargs="+", help="default: every adapter folder with a corpus")
    v.add_argument("--adapters", help="folder of adapter folders (default adapters/)")
    v.add_argument("--corpora", help="folder of corpus folders (default var/corpora/)")
    v.add_argument("--eval-windows", type=int, default=32)
    v.add_argument("--eval-len", type=int, default=256)
    v.add_argument("--threads", type=int, default=2)
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--prompts", type=int, help="use only the first N neutral prompts")
    v.add_argument("--new-tokens", type=int, default=40)
    v.add_argument("--train-chunks", type=int, default=2000, help="classifier training chunks per genre")
    v.add_argument("--test-chunks", type=int, default=300, help="classifier test chunks per genre")
    v.add_argument("--cache-dir", help="where base perplexities are cached (default var/genres-eval)")
    v.add_argument("--json", help="also write the whole report as JSON here")
    v.add_argument("--write-docs", nargs="?", const=str(REPO_ROOT / "docs" / "genres.md"), metavar="FILE",
                   help="write the tables and samples into FILE (default docs/genres.md) between evaluate markers")
    v.add_argument("--base", default="smollm2", help="registry route of the base model")
    v.add_argument("--base-path", help="a model folder to use instead of the registry's")
    v.set_defaults(func=cmd_evaluate)

    a = p.parse_args(argv)
    return a.func(a)


def _model_args(p: argparse.ArgumentParser, registry_flag: bool = True) -> None:
    p.add_argument("--base", default="smollm2", help="registry route of the base model")
    p.add_argument("--base-path", help="a model folder to use instead of the registry's")
    p.add_argument("--corpus-dir", help="folder with train.txt/valid.txt (default var/corpora/<genre>)")
    if registry_flag:
        p.add_argument("--registry", help="registry file (default config/models.yaml or $WRITEUP_REGISTRY)")


if __name__ == "__main__":
    sys.exit(main())
