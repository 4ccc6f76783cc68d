"""Text clean-up shared by the corpus readers: boilerplate, numbering, markup."""
from __future__ import annotations

import re

# Project Gutenberg has used several header/footer wordings over the years;
# these cover the "*** START OF ..." era and the older "*END*THE SMALL PRINT" one.
_GUT_START = re.compile(
    r"^\s*(\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*|\*END\*THE SMALL PRINT!.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_GUT_END = re.compile(
    r"^\s*(\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*|END OF (THE|THIS) PROJECT GUTENBERG.*)$",
    re.IGNORECASE | re.MULTILINE,
)
_GUT_NOISE = re.compile(r"gutenberg|e-?text|e-?book|transcriber|https?://|www\.", re.IGNORECASE)
# A verse line number sits at the end of a line after a run of spaces ("...air.     10").
_TRAILING_NUMBER = re.compile(r"(?<=\S)[ \t]{2,}\d{1,5}[ \t]*$", re.MULTILINE)
# Or at the start, as in printed editions and verse references ("12 ", "Ge1:1 ").
_LEADING_NUMBER = re.compile(r"^[ \t]*\d{1,5}[ \t]+(?=\S)", re.MULTILINE)
_HTML_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")
_EMPHASIS = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")


def strip_gutenberg(text: str) -> str:
    """Keep only the body between Project Gutenberg's header and footer, if present."""
    start = _GUT_START.search(text)
    if start:
        text = text[start.end():]
    end = _GUT_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def drop_gutenberg_lines(lines: list[str]) -> list[str]:
    """Drop stray lines that talk about the e-text rather than being part of it."""
    return [ln for ln in lines if not _GUT_NOISE.search(ln)]


def strip_line_numbers(text: str, leading: bool = False) -> str:
    text = _TRAILING_NUMBER.sub("", text)
    if leading:
        text = _LEADING_NUMBER.sub("", text)
    return text


def strip_markup(text: str) -> str:
    """Remove HTML tags and Gutenberg `_emphasis_` underscores, keep the words."""
    text = _HTML_TAG.sub("", text)
    return _EMPHASIS.sub(r"\1", text)


def unwrap_paragraphs(text: str) -> str:
    """Join hard-wrapped lines into one line per paragraph, as a writer types prose."""
    paras = re.split(r"\n\s*\n", text)
    return "\n\n".join(" ".join(ln.strip() for ln in p.splitlines() if ln.strip()) for p in paras if p.strip())


def normalize(text: str) -> str:
    """Unify newlines and quotes' odd spaces, trim line ends, at most one blank line in a row."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "").replace("\u00a0", " ")
    text = re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"
