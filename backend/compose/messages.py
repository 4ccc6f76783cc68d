"""Client messages on /ws/compose/: size, JSON, and field checks (docs/protocol.md).

Everything is checked here, before anything goes upstream, with the same
error codes the microservice uses, so a bad request costs the model nothing.
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass

from microservices.registry import Registry

MAX_ID_CHARS = 64
MAX_SEED = 2**63 - 1


class ProtocolError(Exception):
    """A bad or refused message: becomes one `error` reply; the socket stays open."""

    def __init__(self, code: str, message: str, id: str | None = None, **extra):
        super().__init__(message)
        self.code = code
        self.message = message
        self.id = id
        self.extra = extra

    def reply(self) -> dict:
        return {"type": "error", "id": self.id, "code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True)
class Generate:
    id: str
    model: str
    prompt: str
    params: dict
    document: str | None  # a document id; pins the request's upstream for prefix reuse

    @property
    def n(self) -> int:
        return self.params.get("n", 1)

    def upstream(self, upstream_id: str) -> dict:
        return {"type": "generate", "id": upstream_id, "model": self.model, "prompt": self.prompt, "params": self.params}


@dataclass(frozen=True)
class Cancel:
    id: str


@dataclass(frozen=True)
class Watch:
    document: str


@dataclass(frozen=True)
class Unwatch:
    document: str


Message = Generate | Cancel | Watch | Unwatch


def decode(text: str | None, data: bytes | None, max_bytes: int) -> dict:
    """Raw frame -> JSON object, or ProtocolError (message_too_large, invalid_json)."""
    if text is not None:
        # A character is at least one byte, so most frames skip the encode.
        size = len(text) if len(text) * 4 <= max_bytes else len(text.encode("utf-8", "surrogatepass"))
    else:
        size = len(data or b"")
    if size > max_bytes:
        raise ProtocolError("message_too_large", f"Messages are limited to {max_bytes} bytes; this one has {size}.")
    if text is None:
        try:
            text = (data or b"").decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("invalid_json", "The message is not UTF-8 text.") from None
    try:
        msg = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("invalid_json", "The message is not valid JSON.") from None
    if not isinstance(msg, dict):
        raise ProtocolError("invalid_json", "The message must be a JSON object.")
    return msg


def request_id(msg: dict) -> str | None:
    """The message's id if it is a usable one, so errors can name their request."""
    rid = msg.get("id")
    return rid if isinstance(rid, str) and 1 <= len(rid) <= MAX_ID_CHARS else None


def validate(msg: dict, registry: Registry) -> Message:
    kind = msg.get("type")
    if kind == "generate":
        return _generate(msg, registry)
    if kind == "cancel":
        return Cancel(_id(msg))
    if kind in ("watch", "unwatch"):
        document = _document(msg.get("document"), None, required=True)
        return Watch(document) if kind == "watch" else Unwatch(document)
    shown = kind if isinstance(kind, str) and len(kind) <= 40 else None
    raise ProtocolError(
        "unknown_type",
        f"Unknown message type {shown!r}; expected generate, cancel, watch or unwatch."
        if shown
        else "The message needs a `type`: generate, cancel, watch or unwatch.",
        request_id(msg),
    )


def _id(msg: dict) -> str:
    rid = msg.get("id")
    if not isinstance(rid, str) or not 1 <= len(rid) <= MAX_ID_CHARS:
        raise ProtocolError("invalid_request", f"`id` must be a string of 1 to {MAX_ID_CHARS} characters.")
    return rid


def _document(value, rid, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, str) and len(value) <= 64:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ProtocolError("invalid_request", "`document` must be a document id (a UUID).", rid)


def _generate(msg: dict, registry: Registry) -> Generate:
    rid = _id(msg)
    model = msg.get("model")
    if not isinstance(model, str) or not model:
        raise ProtocolError("invalid_request", "`model` must be the route of a model, e.g. \"smollm2\".", rid)
    entry = registry.models.get(model)
    if entry is None:
        shown = model if len(model) <= 40 else model[:40] + "…"
        raise ProtocolError("unknown_model", f"There is no model {shown!r}; see /api/models/ for the list.", rid)
    prompt = msg.get("prompt")
    if not isinstance(prompt, str):
        raise ProtocolError("invalid_request", "`prompt` must be a string (it may be empty).", rid)
    limit = entry.limits.max_prompt_chars
    if len(prompt) > limit:
        raise ProtocolError(
            "prompt_too_long", f"The prompt has {len(prompt)} characters; {entry.name} takes at most {limit}.", rid
        )
    params = msg.get("params", {})
    if not isinstance(params, dict):
        raise ProtocolError("invalid_request", "`params` must be an object.", rid)
    _check_params(params, entry.limits, rid)
    return Generate(rid, model, prompt, params, _document(msg.get("document"), rid, required=False))


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _check_params(params: dict, limits, rid: str) -> None:
    def bad(text):
        raise ProtocolError("invalid_request", text, rid)

    for key, v in params.items():
        if key == "max_tokens":
            if not _is_int(v) or not 1 <= v <= limits.max_new_tokens:
                bad(f"params.max_tokens must be an integer from 1 to {limits.max_new_tokens}.")
        elif key == "temperature":
            if not _is_number(v) or not 0 <= v <= 2:
                bad("params.temperature must be a number from 0 to 2 (0 = greedy).")
        elif key == "top_k":
            if not _is_int(v) or not 0 <= v <= 1000:
                bad("params.top_k must be an integer from 0 to 1000 (0 = off).")
        elif key == "top_p":
            if not _is_number(v) or not 0 < v <= 1:
                bad("params.top_p must be in (0, 1].")
        elif key == "n":
            if not _is_int(v) or not 1 <= v <= limits.max_n:
                bad(f"params.n must be an integer from 1 to {limits.max_n}.")
        elif key == "stop":
            if (
                not isinstance(v, list)
                or len(v) > 4
                or not all(isinstance(s, str) and 1 <= len(s) <= 64 for s in v)
            ):
                bad("params.stop must be a list of at most 4 strings of 1 to 64 characters.")
        elif key == "seed":
            if v is not None and (not _is_int(v) or not 0 <= v <= MAX_SEED):
                bad("params.seed must be null or an integer from 0 to 2^63-1.")
        else:
            shown = key if len(key) <= 40 else key[:40] + "…"
            bad(f"Unknown parameter params.{shown}; allowed: max_tokens, temperature, top_k, top_p, n, stop, seed.")
