"""`python -m genres evaluate`: do the genre adapters sound like their genre?

Three views, each printed as a markdown table:

1. Perplexity, base against adapter, on the block validation split (`valid.txt`)
   and on the works held out by source (`heldout.txt`), with the reduction.
2. The genre classifier's accuracy on chunks of the held-out works.
3. Generated text: the same neutral prompts, seeded, sampled through the real
   serving engine (`microservices.engine`, every route in the same batches) from
   the base route and each genre route; the share of each route's
   continuations the classifier assigns to each genre.

`--write-docs` puts the tables and a few samples per route into docs/genres.md,
between the `<!-- evaluate:begin -->` and `<!-- evaluate:end -->` markers.
"""
from __future__ import annotations

import hashlib
import json
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from genres import classifier, perplexity

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE = REPO_ROOT / "var" / "genres-eval"
BEGIN, END = "<!-- evaluate:begin -->", "<!-- evaluate:end -->"

# Openings that lean toward no genre: no "thee", no "Licensee", no "chapter",
# no line break; each could start a letter, a story, a sermon or a contract.
NEUTRAL_PROMPTS = (
    "The next morning,",
    "It was late when",
    "She opened the door and",
    "There is one thing that",
    "When the time came,",
    "He said that",
    "After some time",
    "We have to",
    "The house stood",
    "All of them",
    "It is known that",
    "Then the old man",
    "In the end,",
    "Nobody could say why",
    "The light was",
    "For this reason",
    "They waited until",
    "A letter arrived",
    "Every one of",
    "At first",
)
NEW_TOKENS = 40


@dataclass
class Settings:
    genres: list[str] | None = None  # default: every adapter folder that has a corpus
    adapters_dir: str | None = None
    corpora_dir: str | None = None
    base: str = "smollm2"
    base_path: str | None = None
    eval_windows: int = 32
    eval_len: int = 256
    threads: int = 2
    seed: int = 0
    prompts: tuple[str, ...] = NEUTRAL_PROMPTS
    new_tokens: int = NEW_TOKENS
    temperature: float = 0.8  # the editor's default
    train_chunks: int = classifier.TRAIN_CHUNKS
    test_chunks: int = classifier.TEST_CHUNKS
    cache_dir: str | None = None  # base perplexities are cached here (None: var/genres-eval)


@dataclass
class Report:
    perplexity: list[dict] = field(default_factory=list)  # one row per genre
    classifier: dict = field(default_factory=dict)
    generated: dict = field(default_factory=dict)  # route -> {"genre", "counts": {genre: n}, "own": share|None}
    samples: dict = field(default_factory=dict)  # route -> [(prompt, continuation)]
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0


def discover(s: Settings) -> tuple[dict[str, Path], dict[str, Path]]:
    """({genre: adapter folder}, {genre: corpus folder}) of the genres to evaluate."""
    from genres import corpora

    adapters_root = Path(s.adapters_dir) if s.adapters_dir else REPO_ROOT / "adapters"
    corpora_root = Path(s.corpora_dir) if s.corpora_dir else corpora.CORPORA_DIR
    found = sorted(p.parent.name for p in adapters_root.glob("*/adapter_config.json"))
    names = s.genres or found
    unknown = [g for g in names if g not in found]
    if unknown:
        raise ValueError(f"no adapter for {unknown} in {adapters_root}; there are: {', '.join(found) or 'none'}")
    missing = [g for g in names if not (corpora_root / g / "train.txt").exists()]
    if missing:
        raise ValueError(f"no corpus for {missing} in {corpora_root}; build it with `python -m genres corpus NAME`")
    if not names:
        raise ValueError(f"no adapters to evaluate in {adapters_root}")
    return {g: adapters_root / g for g in names}, {g: corpora_root / g for g in names}


def run(s: Settings, log=print) -> Report:
    t0 = time.perf_counter()
    torch.set_num_threads(s.threads)
    adapters, corpus_dirs = discover(s)
    report = Report(settings={k: v for k, v in s.__dict__.items() if k != "prompts"} | {"prompts": list(s.prompts)})
    log(f"perplexity: {len(adapters)} genres, {s.eval_windows} windows of {s.eval_len} tokens per split")
    report.perplexity = perplexities(s, adapters, corpus_dirs, log)
    log("classifier: training on chunks of each train.txt")
    clf = classifier.from_corpora(corpus_dirs, s.train_chunks, s.seed)
    test, split = _test_chunks(corpus_dirs, s)
    report.classifier = clf.accuracy(test) | {"split": split, "chunk_chars": classifier.CHUNK_CHARS,
                                              "train_chunks": s.train_chunks}
    log(f"generation: {len(s.prompts)} prompts x {len(adapters) + 1} routes through the engine")
    texts = generate(s, adapters)
    for route, outs in texts.items():
        predicted = clf.predict([t for _, t in outs])
        counts = {g: predicted.count(g) for g in clf.genres}
        own = counts[route] / len(outs) if route in counts and outs else None
        report.generated[route] = {"counts": counts, "own": own, "n": len(outs)}
        report.samples[route] = [(p, t, g) for (p, t), g in zip(outs, predicted)]
    report.seconds = round(time.perf_counter() - t0, 1)
    return report


def _test_chunks(corpus_dirs: dict[str, Path], s: Settings) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Chunks of each genre's held-out works, or of its validation split where it holds no work out."""
    out, split = {}, {}
    for genre, folder in corpus_dirs.items():
        name = "heldout" if (folder / "heldout.txt").exists() and (folder / "heldout.txt").read_text().strip() else "valid"
        out[genre] = classifier.corpus_chunks({genre: folder}, name, s.test_chunks, s.seed)[genre]
        split[genre] = name
    return out, split


# --- perplexity ------------------------------------------------------------------

def perplexities(s: Settings, adapters: dict[str, Path], corpus_dirs: dict[str, Path], log=print) -> list[dict]:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genres import finetune

    folder = finetune.base_folder(finetune.Settings(genre="", base=s.base, base_path=s.base_path))
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    wins = {}
    for genre, cdir in corpus_dirs.items():
        for split in ("valid", "heldout"):
            path = cdir / f"{split}.txt"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            ids = perplexity.tokenize(tokenizer, text) if text.strip() else torch.zeros(0, dtype=torch.long)
            wins[genre, split] = (perplexity.windows(ids, s.eval_len, s.eval_windows) if len(ids) >= s.eval_len else None,
                                  hashlib.sha256(text.encode()).hexdigest())
    cache = _BaseCache(Path(s.cache_dir) if s.cache_dir else CACHE, folder)
    base = {}
    for (genre, split), (w, sha) in wins.items():
        if w is not None:
            base[genre, split] = cache.get(sha, w, lambda w=w: perplexity.perplexity(model, w))
    cache.save()
    rows, peft_model = [], None
    for genre, adir in adapters.items():
        if peft_model is None:
            peft_model = PeftModel.from_pretrained(model, str(adir), adapter_name=genre)
        else:
            peft_model.load_adapter(str(adir), adapter_name=genre)
        peft_model.set_adapter(genre)
        row = {"genre": genre, "record_steps": _record(adir).get("steps"), "train_seconds": _record(adir).get("train_seconds")}
        for split in ("valid", "heldout"):
            w, _ = wins[genre, split]
            if w is None:
                row[split] = None
                continue
            ppl = perplexity.perplexity(peft_model, w)
            b = base[genre, split]
            row[split] = {"base": b, "adapter": ppl, "reduction": 1 - ppl / b, "windows": int(w.shape[0])}
        log(f"  {genre}: " + ", ".join(f"{sp} {row[sp]['base']:.2f} -> {row[sp]['adapter']:.2f}" for sp in ("valid", "heldout") if row[sp]))
        rows.append(row)
    return rows


def _record(adir: Path) -> dict:
    try:
        return json.loads((adir / "training.json").read_text())
    except (OSError, ValueError):
        return {}


class _BaseCache:
    """Base-model perplexities by (model folder, text hash, window shape): they only change when those do."""

    def __init__(self, root: Path, folder: str):
        self.path, self.folder = root / "base_ppl.json", str(folder)
        try:
            self.data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            self.data = {}

    def get(self, sha: str, wins: torch.Tensor, compute) -> float:
        key = f"{self.folder}|{sha}|{tuple(wins.shape)}"
        if key not in self.data:
            self.data[key] = compute()
        return self.data[key]

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(self.data, indent=1))


# --- generation through the engine ------------------------------------------------

def generate(s: Settings, adapters: dict[str, Path]) -> dict[str, list[tuple[str, str]]]:
    """{route: [(prompt, continuation)]}: every prompt on every route, in shared batches.

    Prompt i has seed `seed + i` on every route, so two routes' continuations
    differ only by their adapter.
    """
    from contract.sampling_params import SamplingParams
    from microservices.engine import adapters as lora
    from microservices.engine.engine import Engine, Request
    from microservices.engine.loader import load_model, load_tokenizer

    from genres import finetune

    folder = Path(finetune.base_folder(finetune.Settings(genre="", base=s.base, base_path=s.base_path)))
    model = load_model(folder, "cpu")
    names = list(adapters)
    lora.install(model, [adapters[g] for g in names])
    routes = {"base": 0} | {g: i + 1 for i, g in enumerate(names)}
    total = len(routes) * len(s.prompts)
    engine = Engine(model, load_tokenizer(folder), routes=routes, n_adapters=len(names), max_batch=min(32, total),
                    max_queue=total, context=256, prefix_cache_mb=0, threads=s.threads,
                    writer_max_seqs=min(32, total), writer_max_queue=total)
    events: queue.SimpleQueue = queue.SimpleQueue()
    engine.start()
    try:
        for route, adapter in routes.items():
            for i, prompt in enumerate(s.prompts):
                params = SamplingParams(max_tokens=s.new_tokens, temperature=s.temperature, seed=s.seed + i)
                engine.submit(Request(id=f"{route}/{i}", route=route, adapter=adapter, prompt=prompt, params=params,
                                      emit=lambda ev: events.put(ev.to_wire())))
        texts: dict[str, list[str]] = {}
        done = 0
        while done < total:
            ev = events.get(timeout=600)
            if ev["type"] == "token":
                texts.setdefault(ev["id"], []).append(ev["text"])
            elif ev["type"] == "done":
                done += 1
            elif ev["type"] == "error":
                raise RuntimeError(f"engine refused {ev['id']}: {ev['code']}: {ev['message']}")
    finally:
        engine.stop()
    return {route: [(p, "".join(texts.get(f"{route}/{i}", []))) for i, p in enumerate(s.prompts)] for route in routes}


# --- tables ----------------------------------------------------------------------------

def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def perplexity_table(r: Report) -> str:
    out = ["| genre | valid: base | valid: adapter | valid: reduction | held-out works: base | held-out: adapter | held-out: reduction |",
           "|---|---|---|---|---|---|---|"]
    for row in r.perplexity:
        cells = []
        for split in ("valid", "heldout"):
            v = row[split]
            cells += ["–"] * 3 if v is None else [f"{v['base']:.2f}", f"{v['adapter']:.2f}", f"{100 * v['reduction']:.1f}%"]
        out.append(f"| {row['genre']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def classifier_table(r: Report) -> str:
    c = r.classifier
    genres = list(c["confusion"])
    out = [f"Accuracy on {c['n']} chunks of ~{c['chunk_chars']} characters from the held-out works: **{100 * c['accuracy']:.1f}%**", "",
           "| true genre | test split | accuracy | " + " | ".join(f"→ {g}" for g in genres) + " |",
           "|---|---|---|" + "---|" * len(genres)]
    for g in genres:
        out.append(f"| {g} | {c['split'][g]} | {100 * c['per_genre'][g]:.1f}% | " +
                   " | ".join(str(c["confusion"][g].get(p, 0)) for p in genres) + " |")
    return "\n".join(out)


def generated_table(r: Report) -> str:
    genres = r.classifier.get("confusion", {}).keys() or next(iter(r.generated.values()))["counts"].keys()
    genres = list(genres)
    out = ["| route | continuations | classified as its genre | " + " | ".join(g for g in genres) + " |",
           "|---|---|---|" + "---|" * len(genres)]
    for route, g in r.generated.items():
        n = g["n"] or 1
        out.append(f"| {route} | {g['n']} | {_pct(g['own']) if route != 'base' else '(chance ' + _pct(1 / len(genres)) + ')'} | " +
                   " | ".join(_pct(g["counts"].get(x, 0) / n) for x in genres) + " |")
    return "\n".join(out)


def samples_md(r: Report, per_route: int = 3) -> str:
    out = []
    for route, items in r.samples.items():
        out += [f"**{route}**", ""]
        for prompt, text, predicted in items[:per_route]:
            out.append(f"- *{_md(prompt)}* → {_md(_one_line(text))} — classified *{predicted}*")
        out.append("")
    return "\n".join(out).rstrip()


def _one_line(text: str) -> str:
    return " ↵ ".join(" ".join(ln.split()) for ln in text.strip().splitlines() if ln.strip())


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")


def render(r: Report) -> str:
    s = r.settings
    return "\n".join([
        "### Perplexity: block validation split and held-out works",
        "",
        f"{s['eval_windows']} evenly spaced windows of {s['eval_len']} tokens per split (fewer where a split is shorter).",
        "",
        perplexity_table(r),
        "",
        "### Genre classifier",
        "",
        classifier_table(r),
        "",
        "### Generated text",
        "",
        f"{len(s['prompts'])} neutral prompts, {s['new_tokens']} new tokens each, temperature {s['temperature']}, "
        f"top-k 40, top-p 0.95, seed {s['seed']} + prompt index on every route; sampled through the serving engine "
        "with every route in the same batches. Share of each route's continuations the classifier puts in each genre:",
        "",
        generated_table(r),
    ])


def write_docs(r: Report, path: Path) -> None:
    """Replace the section between the markers in `path` (append one if there is none)."""
    body = "\n".join([BEGIN, "", render(r), "", "### Samples", "",
                      "The first prompts of the list on each route (the classifier's verdict after each):", "",
                      samples_md(r), "", END])
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + body + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + "## Evaluation\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")


def as_json(r: Report) -> dict:
    return {"perplexity": r.perplexity, "classifier": r.classifier, "generated": r.generated,
            "samples": {k: [list(x) for x in v] for k, v in r.samples.items()}, "settings": r.settings, "seconds": r.seconds}
