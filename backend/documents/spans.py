"""Which characters of a text a model wrote: `[{"start", "end", "model"}]`.

Offsets count Unicode code points (Python's `len`), so every client and the
exports agree whatever the text's script; the editor converts from its own
UTF-16 offsets before saving.
"""
from __future__ import annotations

import re
from collections import Counter

# A long piece accepts many suggestions, but not one per character.
MAX_SPANS = 10_000
MODEL_MAX_CHARS = 64
# Registry routes are slugs; anything else in `model` is a client bug.
_ROUTE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class InvalidSpans(ValueError):
    """A human sentence saying what is wrong with the spans."""


def _offset(value, where: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidSpans(f"{where}: {name} must be a whole number.")
    if value < 0:
        raise InvalidSpans(f"{where}: {name} cannot be negative.")
    return value


def parse(data) -> list[dict]:
    """Check the shape and order of spans from a client; returns clean copies."""
    if not isinstance(data, list):
        raise InvalidSpans("Spans must be a list of {start, end, model} objects.")
    if len(data) > MAX_SPANS:
        raise InvalidSpans(f"At most {MAX_SPANS} spans per document; merge adjacent ones.")
    out: list[dict] = []
    for i, item in enumerate(data):
        where = f"span {i}"
        if not isinstance(item, dict):
            raise InvalidSpans(f"{where}: must be an object with start, end and model.")
        unknown = set(item) - {"start", "end", "model"}
        if unknown:
            raise InvalidSpans(f"{where}: unknown field {sorted(unknown)[0]!r}.")
        if "start" not in item or "end" not in item:
            raise InvalidSpans(f"{where}: needs start and end.")
        start = _offset(item["start"], where, "start")
        end = _offset(item["end"], where, "end")
        if end <= start:
            raise InvalidSpans(f"{where}: end ({end}) must be after start ({start}).")
        if out and start < out[-1]["end"]:
            raise InvalidSpans(f"{where}: starts at {start}, inside or before the previous span; sort them and merge overlaps.")
        model = item.get("model")
        if model is not None and (
            not isinstance(model, str) or len(model) > MODEL_MAX_CHARS or not _ROUTE.match(model)
        ):
            raise InvalidSpans(f"{where}: model must be a model route (up to {MODEL_MAX_CHARS} characters) or null.")
        out.append({"start": start, "end": end, "model": model})
    return out


def check_fit(spans: list[dict], body: str) -> None:
    """Parsed spans must lie inside `body`."""
    if spans and spans[-1]["end"] > len(body):
        raise InvalidSpans(
            f"span {len(spans) - 1}: ends at {spans[-1]['end']}, past the end of the body "
            f"({len(body)} characters, counted in Unicode code points)."
        )


def main_model(spans: list[dict]) -> str | None:
    """The model that wrote the most characters, if any did."""
    written = Counter()
    for span in spans:
        if span.get("model"):
            written[span["model"]] += span["end"] - span["start"]
    return written.most_common(1)[0][0] if written else None
