"""How long the writers' drafts are when they open them.

A load test on 100-word drafts measures a service nobody uses: real drafts run
to thousands of words, and their length decides the prefill a writer's first
suggestion pays. Each writer draws its draft's length from a distribution:
a built-in preset (`long`, the default, or `short`, the old 40-120 words) or
the word counts of existing drafts, one a line in a file (for example an
export of `SELECT array_length(regexp_split_to_array(body, '\\s+'), 1)`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

# Inclusive word-count ranges, drawn uniformly.
PRESETS = {"short": (40, 120), "long": (1000, 3000)}
MAX_DRAFT_WORDS = 100_000  # ~600,000 characters: past any model's prompt limit, so enough
MAX_FILE_LINES = 1_000_000


class DraftError(ValueError):
    """A draft-length option or file that cannot be used; the message says where."""


@dataclass(frozen=True)
class DraftLengths:
    name: str  # shown in reports: a preset's name or the file's
    low: int
    high: int
    counts: tuple[int, ...] = ()  # empirical: draw one of these; empty = uniform on [low, high]

    def draw(self, rng: random.Random) -> int:
        if self.counts:
            return self.counts[rng.randrange(len(self.counts))]
        return rng.randint(self.low, self.high)

    def describe(self) -> str:
        if self.counts:
            return f"{self.name} ({len(self.counts)} drafts, {self.low}-{self.high} words)"
        return f"{self.name} ({self.low}-{self.high} words)"


def preset(name: str) -> DraftLengths:
    if name not in PRESETS:
        raise DraftError(f"--drafts: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    low, high = PRESETS[name]
    return DraftLengths(name, low, high)


def from_lines(lines, name: str) -> DraftLengths:
    """Word counts, one a line; blank lines and `#` comments are skipped."""
    counts = []
    for number, line in enumerate(lines, 1):
        if number > MAX_FILE_LINES:
            raise DraftError(f"{name}: more than {MAX_FILE_LINES} lines; sample the drafts first")
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            words = int(text)
        except ValueError:
            raise DraftError(f"{name}, line {number}: expected a whole number of words, got {text[:40]!r}") from None
        if not 1 <= words <= MAX_DRAFT_WORDS:
            raise DraftError(f"{name}, line {number}: {words} words is outside 1 to {MAX_DRAFT_WORDS}")
        counts.append(words)
    if not counts:
        raise DraftError(f"{name}: no word counts in it (one whole number a line)")
    return DraftLengths(name, min(counts), max(counts), tuple(counts))


def from_file(path: str | Path) -> DraftLengths:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            return from_lines(f, path.name)
    except OSError as e:
        raise DraftError(f"--draft-words: cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise DraftError(f"--draft-words: {path} is not UTF-8 text") from None
