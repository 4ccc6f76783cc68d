"""`python -m genres evaluate` end to end on tiny corpora and a tiny Llama: corpus with held-out works,
fine-tune with a curve, classifier, generation through the real engine, tables and docs.
It checks that the tables are produced and well-formed, not the figures."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genres import corpora, evaluate, finetune
from genres.__main__ import main
from tests.genres.tiny import tiny_llama

REPO = Path(__file__).resolve().parents[2]
SMOLLM2 = REPO / "models" / "smollm2-135m"

pytestmark = pytest.mark.skipif(not (SMOLLM2 / "tokenizer.json").exists(), reason="needs models/smollm2-135m (scripts/setup)")

WORDS = {
    "witches": ("thunder lightning rain hurlyburly battle lost won heath fog filthy air fair foul", "\n"),
    "ledger": ("licensee shall pay the licensor fees within thirty days of notice under this agreement", " "),
}


def _text(genre: str, work: int, n: int = 160) -> str:
    words, sep = WORDS[genre]
    words = words.split()
    lines = [" ".join(words[(i * 7 + j * 3 + work) % len(words)] for j in range(8)).capitalize() + "." for i in range(n)]
    return "\n\n".join(sep.join(lines[i : i + 4]) for i in range(0, n, 4))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("genres-eval")
    tiny_llama(root / "model", max_positions=512)
    for genre in WORDS:
        files = []
        for work in range(3):
            files.append(root / "src" / genre / f"work{work}.txt")
            files[-1].parent.mkdir(parents=True, exist_ok=True)
            files[-1].write_text(_text(genre, work))
        meta = corpora.build_from_files(genre, files, "CC0-1.0", root=root / "corpora", heldout=[files[2]])
        assert meta["heldout"]["works"] == ["work2.txt"]
        s = finetune.Settings(genre=genre, steps=4, seed=1, batch_size=2, seq_len=32, lr=1e-2, warmup=1, rank=4, alpha=8,
                              save_every=2, eval_windows=2, eval_len=32, threads=1, base_path=str(root / "model"),
                              corpus_dir=str(root / "corpora" / genre), out_dir=str(root / "adapters" / genre),
                              work_dir=str(root / "work" / genre), eval_every=2, curve_windows=2)
        finetune.train(s, progress=False)
    return root


def test_evaluate_prints_the_three_tables_and_writes_docs(tiny, capsys):
    docs = tiny / "genres.md"
    docs.write_text("# Genre models\n\nHand-written intro.\n")
    args = ["evaluate", "--base-path", str(tiny / "model"), "--adapters", str(tiny / "adapters"),
            "--corpora", str(tiny / "corpora"), "--eval-windows", "2", "--eval-len", "32", "--threads", "1",
            "--prompts", "3", "--new-tokens", "4", "--train-chunks", "40", "--test-chunks", "10",
            "--cache-dir", str(tiny / "cache"), "--json", str(tiny / "report.json"), "--write-docs", str(docs)]
    assert main(args) == 0
    out = capsys.readouterr().out
    tables = _tables(out)
    assert len(tables) == 3  # perplexity, classifier, generated text
    ppl, clf, gen = tables[0], tables[1], tables[2]
    assert [r[0] for r in ppl[2:]] == ["ledger", "witches"]
    for row in ppl[2:]:
        assert len(row) == 7 and all(re.fullmatch(r"\d+\.\d\d", c) for c in (row[1], row[2], row[4], row[5]))
        assert all(re.fullmatch(r"-?\d+\.\d%", c) for c in (row[3], row[6]))
    assert [r[0] for r in clf[2:]] == ["ledger", "witches"] and all(r[1] == "heldout" for r in clf[2:])
    assert [r[0] for r in gen[2:]] == ["base", "ledger", "witches"]
    for row in gen[2:]:
        assert row[1] == "3" and sum(int(c.rstrip("%")) for c in row[3:]) in range(98, 103)

    report = json.loads((tiny / "report.json").read_text())
    assert set(report["generated"]) == {"base", "ledger", "witches"}
    assert all(len(v) == 3 for v in report["samples"].values())
    assert report["perplexity"][0]["heldout"]["windows"] == 2

    text = docs.read_text()
    assert text.startswith("# Genre models\n\nHand-written intro.\n") and text.count(evaluate.BEGIN) == 1
    assert "### Samples" in text and "**witches**" in text
    # A second run replaces the section instead of adding one; base perplexities come from the cache.
    assert main(args) == 0
    assert docs.read_text().count(evaluate.BEGIN) == 1 and docs.read_text().startswith("# Genre models")
    assert (tiny / "cache" / "base_ppl.json").exists()


def test_evaluate_names_what_is_missing(tiny, capsys):
    assert main(["evaluate", "--base-path", str(tiny / "model"), "--adapters", str(tiny / "adapters"),
                 "--corpora", str(tiny / "corpora"), "--genres", "sonnets"]) == 2
    assert "no adapter for ['sonnets']" in capsys.readouterr().err
    assert main(["evaluate", "--base-path", str(tiny / "model"), "--adapters", str(tiny / "adapters"),
                 "--corpora", str(tiny / "nowhere")]) == 2
    assert "no corpus for" in capsys.readouterr().err
    assert main(["evaluate", "--eval-windows", "0"]) == 2
    assert "--eval-windows must be" in capsys.readouterr().err


def _tables(text: str) -> list[list[list[str]]]:
    """Markdown tables in `text`, each a list of rows of cells (header and rule rows included)."""
    tables, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cur.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif cur:
            tables.append(cur)
            cur = []
    return tables
