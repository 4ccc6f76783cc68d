"""Validation of compose messages (docs/protocol.md), shared by the
microservice and the backend relay so both hops answer bad input alike."""
from __future__ import annotations

import json
from dataclasses import dataclass

from .registry import Limits
from .sampling_params import SamplingParams

MAX_MESSAGE_BYTES = 1_000_000  # under daphne's 1 MiB frame limit, so an oversized message gets a clear error
MAX_ID_CHARS = 64
MAX_STOP = 4
MAX_STOP_CHARS = 64
MAX_WRITER_CHARS = 128
PARAM_KEYS = {"max_tokens", "temperature", "top_k", "top_p", "n", "stop", "seed"}


class ProtocolError(Exception):
    """A refused message, answered as `{"type": "error", "id", "code", "message"}`
    on either hop; `extra` fields (the backend's `document`) join the reply."""

    def __init__(self, code: str, message: str, id: str | None = None, param: str | None = None, **extra):
        super().__init__(message)
        self.code, self.message, self.id = code, message, id
        self.param = param  # the offending parameter, for APIs that name it (OpenAI's `param`)
        self.extra = extra

    def as_message(self) -> dict:
        return {"type": "error", "id": self.id, "code": self.code, "message": self.message, **self.extra}


@dataclass(frozen=True)
class Generate:
    id: str
    model: str
    prompt: str
    params: SamplingParams
    document: str | None = None
    writer: str | None = None  # opaque key set by the backend: cache scope and fair-share key


@dataclass(frozen=True)
class Prewarm:
    """Prefill `prompt` into the writer's cache and answer nothing but `done`
    (finish_reason `prefilled`, or `dropped` when the model is busy)."""
    id: str
    model: str
    prompt: str
    document: str | None = None
    writer: str | None = None


@dataclass(frozen=True)
class Cancel:
    id: str


def decode(raw: str | bytes | None, max_bytes: int = MAX_MESSAGE_BYTES) -> dict:
    if raw is None:
        raise ProtocolError("invalid_json", "Binary frames are not accepted; send JSON text.")
    size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise ProtocolError("message_too_large", f"Messages are limited to {max_bytes} bytes; this one has {size}.")
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("invalid_json", "The message is not valid JSON.") from None
    except RecursionError:  # a few kilobytes of [[[[... exhaust the decoder's stack
        raise ProtocolError("invalid_json", "The message nests too deeply.") from None
    if not isinstance(msg, dict):
        raise ProtocolError("invalid_json", "The message must be a JSON object.")
    return msg


def is_text(value) -> bool:
    """A string that can be sent on as UTF-8. JSON's \\ud800 escapes decode to
    lone surrogates, which no tokenizer accepts and no socket can send back."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def usable_id(value) -> str | None:
    """`value` if an error reply can name it as the request's id."""
    return value if is_text(value) and 1 <= len(value) <= MAX_ID_CHARS else None


def request_id(msg: dict) -> str:
    rid = msg.get("id")
    if usable_id(rid) is None:
        raise ProtocolError("invalid_request", f"`id` must be a string of 1 to {MAX_ID_CHARS} characters.",
                            rid if is_text(rid) and len(rid) <= MAX_ID_CHARS else None)
    return rid


def parse(msg: dict, limits_for) -> Generate | Prewarm | Cancel:
    """Validate one decoded message. `limits_for(route)` returns the route's
    Limits or None when the route is not served here."""
    kind = msg.get("type")
    if kind not in ("generate", "prewarm", "cancel"):
        raise ProtocolError("unknown_type", f"Unknown message type {kind!r:.40}; expected 'generate', 'prewarm' or 'cancel'.",
                            usable_id(msg.get("id")))
    rid = request_id(msg)
    if kind == "cancel":
        return Cancel(rid)
    model = msg.get("model")
    if not is_text(model) or not model:
        raise ProtocolError("invalid_request", "`model` must name a model route, e.g. 'smollm2'.", rid)
    limits = limits_for(model)
    if limits is None:
        raise ProtocolError("unknown_model", f"There is no model {model[:64]!r} here.", rid)
    prompt = msg.get("prompt")
    if not is_text(prompt):
        raise ProtocolError("invalid_request", "`prompt` must be a string of valid Unicode text.", rid)
    if len(prompt) > limits.max_prompt_chars:
        raise ProtocolError("prompt_too_long",
                            f"The prompt has {len(prompt)} characters; this model accepts at most {limits.max_prompt_chars}.", rid)
    document = msg.get("document")
    if document is not None and (not is_text(document) or len(document) > 64):
        raise ProtocolError("invalid_request", "`document` must be a document id string.", rid)
    writer = msg.get("writer")
    if writer is not None and (not is_text(writer) or not 1 <= len(writer) <= MAX_WRITER_CHARS):
        raise ProtocolError("invalid_request", f"`writer` must be a string of 1 to {MAX_WRITER_CHARS} characters.", rid)
    if kind == "prewarm":
        if "params" in msg:
            raise ProtocolError("invalid_request", "A prewarm takes no `params`: it only prefills the prompt.", rid)
        return Prewarm(rid, model, prompt, document, writer)
    return Generate(rid, model, prompt, parse_params(msg.get("params"), limits, rid), document, writer)


def _number(params, key, default, lo, hi, rid, integer=False, lo_open=False):
    v = params.get(key, default)
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type:
        kind = "an integer" if integer else "a number"
        raise ProtocolError("invalid_request", f"params.{key} must be {kind}.", rid, key)
    if v != v or (v <= lo if lo_open else v < lo) or v > hi:
        left = "(" if lo_open else "["
        raise ProtocolError("invalid_request", f"params.{key} must be in {left}{lo}, {hi}]; got {v}.", rid, key)
    return v


def parse_params(params, limits: Limits, rid: str | None = None) -> SamplingParams:
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError("invalid_request", "`params` must be an object.", rid)
    unknown = sorted(set(params) - PARAM_KEYS)
    if unknown:
        raise ProtocolError("invalid_request", f"Unknown parameter(s) {', '.join(map(str, unknown))[:200]}; allowed: {', '.join(sorted(PARAM_KEYS))}.", rid)
    out = {
        "max_tokens": _number(params, "max_tokens", min(40, limits.max_new_tokens), 1, limits.max_new_tokens, rid, True),
        "temperature": float(_number(params, "temperature", 0.8, 0, 2, rid)),
        "top_k": _number(params, "top_k", 40, 0, 1000, rid, True),
        "top_p": float(_number(params, "top_p", 0.95, 0, 1, rid, lo_open=True)),
        "n": _number(params, "n", 1, 1, limits.max_n, rid, True),
        "seed": None,
    }
    stop = params.get("stop", [])
    if isinstance(stop, str):
        stop = [stop]
    if (not isinstance(stop, list) or len(stop) > MAX_STOP
            or not all(is_text(s) and 1 <= len(s) <= MAX_STOP_CHARS for s in stop)):
        raise ProtocolError("invalid_request", f"params.stop must be a list of at most {MAX_STOP} strings of 1 to {MAX_STOP_CHARS} characters.", rid, "stop")
    out["stop"] = tuple(stop)
    seed = params.get("seed")
    if seed is not None:
        out["seed"] = _number(params, "seed", None, 0, 2**63 - 1, rid, True)
    return SamplingParams(**out)
