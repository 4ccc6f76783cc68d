"""Client messages on /ws/compose/.

`generate`, `prewarm` and `cancel` are checked by `contract.protocol`, the
same code the microservice runs, so both hops answer bad input with the same
codes and a bad request never reaches a model. The backend adds `watch` and
`unwatch` (document sync between tabs). The `writer` key is the backend's to
set (backend/compose/writer.py): a client that sends one is refused.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from contract import protocol
from contract.protocol import Cancel, Generate, Prewarm, ProtocolError, decode, usable_id
from contract.registry import Registry

# The consumer's one import: the shared messages and checks, and the backend's own.
__all__ = [
    "Cancel", "Generate", "Prewarm", "ProtocolError", "Unwatch", "Watch",
    "decode", "upstream_generate", "upstream_prewarm", "usable_id", "validate",
]


@dataclass(frozen=True)
class Watch:
    document: str


@dataclass(frozen=True)
class Unwatch:
    document: str


Message = Generate | Prewarm | Cancel | Watch | Unwatch

# A prewarm needs no id from the editor (nothing is answered to it); the relay
# names it upstream.
_PREWARM_ID = "prewarm"


def validate(msg: dict, registry: Registry) -> Message:
    kind = msg.get("type")
    if kind in ("watch", "unwatch"):
        document = _document_id(msg.get("document"))
        return Watch(document) if kind == "watch" else Unwatch(document)
    if kind not in ("generate", "prewarm", "cancel"):
        shown = repr(kind)[:40] if kind is not None else None
        raise ProtocolError(
            "unknown_type",
            f"Unknown message type {shown}; expected generate, prewarm, cancel, watch or unwatch."
            if shown
            else "The message needs a `type`: generate, prewarm, cancel, watch or unwatch.",
            usable_id(msg.get("id")),
        )
    if "writer" in msg and kind != "cancel":
        raise ProtocolError(
            "invalid_request", "`writer` is set by the server, not the client; leave it out.", usable_id(msg.get("id"))
        )

    def limits_for(route):
        model = registry.models.get(route)
        return model.limits if model is not None else None

    if kind == "prewarm" and msg.get("id") is None:
        try:
            return protocol.parse({**msg, "id": _PREWARM_ID}, limits_for)
        except ProtocolError as e:
            e.id = None  # the client named no request
            raise
    return protocol.parse(msg, limits_for)


def upstream_generate(req: Generate, upstream_id: str, writer: str, doc_key: str | None) -> dict:
    """The request as the microservice gets it: under the relay's own id,
    with every parameter spelled out, the socket's writer key, and the
    document as the digest the load balancer hashes (ids stay here)."""
    message = {
        "type": "generate",
        "id": upstream_id,
        "model": req.model,
        "prompt": req.prompt,
        "params": req.params.to_wire(),
        "writer": writer,
    }
    if doc_key:
        message["document"] = doc_key
    return message


def upstream_prewarm(req: Prewarm, upstream_id: str, writer: str, doc_key: str | None) -> dict:
    message = {"type": "prewarm", "id": upstream_id, "model": req.model, "prompt": req.prompt, "writer": writer}
    if doc_key:
        message["document"] = doc_key
    return message


def _document_id(value) -> str:
    if isinstance(value, str) and len(value) <= 64:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise ProtocolError("invalid_request", "`document` must be a document id (a UUID).")
