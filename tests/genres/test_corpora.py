"""Corpus cleaning and splitting on small fixtures (no package downloads)."""
from __future__ import annotations

import json

import pytest

from genres import cleaning, corpora
from genres.__main__ import main

GUTENBERG = """The Project Gutenberg EBook of Sonnets, by Someone

This eBook is for the use of anyone anywhere at no cost.

*** START OF THIS PROJECT GUTENBERG EBOOK SONNETS ***

I

From fairest creatures we desire increase,
That thereby beauty's rose might never die,     5

*** END OF THIS PROJECT GUTENBERG EBOOK SONNETS ***

End of the Project Gutenberg EBook. Updated editions will replace the previous one.
"""


def test_strip_gutenberg_keeps_only_the_body():
    body = cleaning.strip_gutenberg(GUTENBERG)
    assert "Project Gutenberg" not in body and "START OF" not in body and "Updated editions" not in body
    assert "From fairest creatures we desire increase," in body


def test_strip_gutenberg_leaves_plain_text_alone():
    assert cleaning.strip_gutenberg("Just a poem.\nNo header.\n") == "Just a poem.\nNo header.\n"


def test_line_numbers_removed_but_numbers_in_words_kept():
    text = "That thereby beauty's rose might never die,     5\nIn 1611 the king spoke.\nACT 2\n"
    assert cleaning.strip_line_numbers(text) == "That thereby beauty's rose might never die,\nIn 1611 the king spoke.\nACT 2\n"
    assert cleaning.strip_line_numbers("12 And God said\n13 Let there be light\n", leading=True) == "And God said\nLet there be light\n"


def test_markup_removed():
    assert cleaning.strip_markup('"_You_ want to <i>tell</i> me," said_he, snake_case_word') == \
        '"You want to tell me," said_he, snake_case_word'


def test_unwrap_and_normalize():
    text = "It is a truth universally\nacknowledged, that a man\n\n\n\nShe said no.  \r\n"
    assert cleaning.normalize(cleaning.unwrap_paragraphs(text)) == \
        "It is a truth universally acknowledged, that a man\n\nShe said no.\n"


def test_drop_gutenberg_lines():
    lines = ["Thus was slain the Mishe-Mokwa,", "Produced by the Online Distributed Proofreading Team at http://www.pgdp.net",
             "This etext was prepared by a transcriber."]
    assert cleaning.drop_gutenberg_lines(lines) == ["Thus was slain the Mishe-Mokwa,"]


def test_split_is_deterministic_disjoint_and_never_empty():
    units = [(f"play:{i}", f"text {i}") for i in range(200)]
    train, valid = corpora.split("fixture", units, 0.05)
    assert (train, valid) == corpora.split("fixture", list(units), 0.05)
    assert valid and train and not set(train) & set(valid)
    assert len(train) + len(valid) == 200 and 2 <= len(valid) <= 25
    # Order of units does not change which ones are held out.
    assert set(corpora.split("fixture", units[::-1], 0.05)[1]) == set(valid)
    # Two units: one each way, whatever the fraction.
    t2, v2 = corpora.split("fixture", units[:2], 0.0001)
    assert len(t2) == len(v2) == 1


def test_units_sharing_a_key_stay_together():
    units = [("GPL", "gpl two"), ("GPL", "gpl three"), ("MIT", "mit"), ("BSD", "bsd"), ("ISC", "isc")]
    train, valid = corpora.split("legal", units, 0.5)
    assert ("gpl two" in valid) == ("gpl three" in valid)


def test_keep_fraction_samples_stably():
    units = [(f"lines:{i}", f"line {i}") for i in range(2000)]
    train, valid = corpora.split("poetry", units, 0.05, keep_fraction=0.1)
    assert 120 < len(train) + len(valid) < 280
    assert (train, valid) == corpora.split("poetry", units, 0.05, keep_fraction=0.1)


def test_corpus_from_files_writes_split_and_source(tmp_path):
    src = tmp_path / "my.txt"
    scenes = [f"SCENE {i}.\n\nFIRST WITCH.\nWhen shall we {i} meet again?     10\nIn _thunder_, lightning, or in rain?"
              for i in range(60)]
    src.write_text(GUTENBERG.replace("I\n\nFrom fairest", "\n\n".join(scenes) + "\n\nFrom fairest"))
    meta = corpora.build_from_files("witches", [src], "CC0-1.0", root=tmp_path / "corpora")
    out = tmp_path / "corpora" / "witches"
    train, valid = (out / "train.txt").read_text(), (out / "valid.txt").read_text()
    assert train.strip() and valid.strip()
    for text in (train, valid):
        assert "Gutenberg" not in text and "_thunder_" not in text and "     10" not in text
    saved = json.loads((out / "source.json").read_text())
    assert saved["license"] == "CC0-1.0" and saved["packages"][0]["name"] == "my.txt"
    assert saved["chars"] == {"train": len(train), "valid": len(valid), "heldout": 0} == meta["chars"]


def test_cli_corpus_from_files(tmp_path, monkeypatch, capsys):
    src = tmp_path / "a.txt"
    src.write_text("\n\n".join(f"Paragraph {i} of a long\nwrapped text." for i in range(400)))
    monkeypatch.setattr(corpora, "CORPORA_DIR", tmp_path / "corpora")
    assert main(["corpus", "mine", "--from", str(src), "--license", "MIT", "--prose"]) == 0
    assert "mine: train" in capsys.readouterr().out
    assert "Paragraph 3 of a long wrapped text." in (tmp_path / "corpora" / "mine" / "train.txt").read_text() + \
        (tmp_path / "corpora" / "mine" / "valid.txt").read_text()


def test_known_genres_have_readers_and_prompts():
    assert {"shakespeare", "poetry", "novel", "scripture", "legal"} <= set(corpora.GENRES)
    for g in corpora.GENRES.values():
        assert callable(g.read) and g.prompt and g.title


def test_held_out_works_leave_the_corpus_whole():
    units = [(f"{play}:{i}", f"{play} block {i}") for play in ("hamlet", "macbeth", "lear", "tempest") for i in range(30)]
    rest, held = corpora.hold_out("fixture", units, ("macbeth", "tempest"), lambda k: k.split(":")[0])
    assert held == [f"{p} block {i}" for p in ("macbeth", "tempest") for i in range(30)]
    assert {k.split(":")[0] for k, _ in rest} == {"hamlet", "lear"}
    train, valid = corpora.split("fixture", rest, 0.1)
    assert not (set(train) | set(valid)) & set(held) and len(train) + len(valid) == 60
    with pytest.raises(ValueError, match="not in the corpus"):
        corpora.hold_out("fixture", units, ("othello",), lambda k: k.split(":")[0])
    with pytest.raises(ValueError, match="nothing is left"):
        corpora.hold_out("fixture", units, ("hamlet", "macbeth", "lear", "tempest"), lambda k: k.split(":")[0])


def test_known_genres_name_held_out_works():
    for g in corpora.GENRES.values():
        assert g.heldout, f"{g.name} holds no work out"
    assert corpora._bible_book("1Chr12") == "1Chr" and corpora._bible_book("Ge1") == "Ge"


def test_corpus_from_files_holds_out_whole_files(tmp_path):
    files = []
    for name in ("a", "b", "c"):
        files.append(tmp_path / f"{name}.txt")
        files[-1].write_text("\n\n".join(f"Work {name}, paragraph {i}, in some words." for i in range(200)))
    meta = corpora.build_from_files("mine", files, "CC0-1.0", root=tmp_path / "corpora", heldout=[files[2]])
    out = tmp_path / "corpora" / "mine"
    held = (out / "heldout.txt").read_text()
    assert "Work c," in held and "Work a," not in held and "Work b," not in held
    assert "Work c," not in (out / "train.txt").read_text() + (out / "valid.txt").read_text()
    assert meta["heldout"]["works"] == ["c.txt"] and meta["chars"]["heldout"] == len(held)
    saved = json.loads((out / "source.json").read_text())
    assert saved["sha256"]["heldout"] == meta["sha256"]["heldout"]
