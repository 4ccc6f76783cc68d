"""A draft or piece as a file to take elsewhere: Markdown or plain text.

`body` keeps one line per paragraph. Markdown needs a blank line between
paragraphs, and a line the writer began with "1." or "#" must stay prose, so
block syntax at the start of a line is escaped; inline text is left alone.
"""
from __future__ import annotations

import re
import unicodedata
from html import escape

from django.http import HttpResponse
from django.utils.http import content_disposition_header

FORMATS = {"md": "text/markdown; charset=utf-8", "txt": "text/plain; charset=utf-8"}

# Up to three spaces, then something that would open a heading, quote, list,
# fence, table row, thematic break or setext underline.
_BLOCK_START = re.compile(r"^( {0,3})([#>*+\-=_`~|]|\d{1,9}[.)])")
# `<` that would start an HTML tag, comment or declaration.
_HTML_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def _escape_inline(text: str) -> str:
    return _HTML_OPEN.sub(r"\\<", text)


def _escape_line(line: str) -> str:
    line = _escape_inline(line)
    match = _BLOCK_START.match(line)
    if not match:
        return line
    indent, marker = match.groups()
    if marker[0].isdigit():
        # "1986. A fine year" is not a list item: escape the dot.
        return f"{indent}{marker[:-1]}\\{marker[-1]}{line[match.end():]}"
    return f"{indent}\\{line[len(indent):]}"


def _marked_line(line: str, line_start: int, spans: list[dict]) -> str:
    """One line of the body with the model's spans in it wrapped in <mark>."""
    parts: list[tuple[bool, str | None, str]] = []  # (marked, model, text)
    at, line_end = line_start, line_start + len(line)
    for span in spans:
        s, e = max(span["start"], at), min(span["end"], line_end)
        if e <= s:
            continue
        if s > at:
            parts.append((False, None, line[at - line_start : s - line_start]))
        parts.append((True, span.get("model"), line[s - line_start : e - line_start]))
        at = e
    if at < line_end:
        parts.append((False, None, line[at - line_start :]))
    out = []
    for i, (marked, model, text) in enumerate(parts):
        if not marked:
            # Only the line's first run can open a block.
            out.append(_escape_line(text) if i == 0 else _escape_inline(text))
        else:
            attr = f' data-model="{escape(model)}"' if model else ""
            out.append(f"<mark{attr}>{_escape_inline(text)}</mark>")
    return "".join(out)


def _marked_lines(body: str, spans: list[dict]) -> list[str]:
    lines, offset = [], 0
    for line in body.split("\n"):
        lines.append(_marked_line(line, offset, spans))
        offset += len(line) + 1
    return lines


def to_markdown(title: str, body: str, spans: list[dict] | None = None) -> str:
    """`# title`, then one paragraph per non-empty line; with `spans`, the
    model's words are wrapped in <mark data-model="route">."""
    lines = _marked_lines(body, spans) if spans else [_escape_line(line) for line in body.split("\n")]
    paragraphs = [line for line in lines if line.strip()]
    head = [f"# {_escape_inline(title.strip())}"] if title.strip() else []
    return "\n\n".join(head + paragraphs) + "\n"


def to_text(title: str, body: str) -> str:
    """The title, a blank line, and the body exactly as written."""
    text = f"{title.strip()}\n\n{body}" if title.strip() else body
    return text if text.endswith("\n") else text + "\n"


def filename(title: str, ext: str) -> str:
    """A safe file name from the title: "Ode to Joy!" -> "ode-to-joy.md".
    Letters of any script stay (Content-Disposition carries them as UTF-8)."""
    words = re.sub(r"[\W_]+", "-", unicodedata.normalize("NFC", title).lower())
    slug = words.strip("-")[:80].strip("-")
    return f"{slug or 'untitled'}.{ext}"


def response(title: str, body: str, spans: list[dict], fmt: str, *, highlight: bool = False) -> HttpResponse:
    """The file as a download (Content-Disposition: attachment)."""
    content = to_markdown(title, body, spans if highlight else None) if fmt == "md" else to_text(title, body)
    out = HttpResponse(content, content_type=FORMATS[fmt])
    out["Content-Disposition"] = content_disposition_header(True, filename(title, fmt))
    # Drafts are private: no shared cache may keep a copy.
    out["Cache-Control"] = "private, no-store"
    return out


def download(request, title: str, body: str, spans: list[dict], fmt: str) -> HttpResponse:
    """`response` for a download view: `?highlight=1` (or `true`) marks the model's words."""
    return response(title, body, spans, fmt, highlight=request.GET.get("highlight") in ("1", "true"))
