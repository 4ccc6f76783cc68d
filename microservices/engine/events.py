"""What the engine tells a request's owner: small typed events. Each front
end (the compose WebSocket, the OpenAI API) formats them for its own wire."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int  # of this writer's own earlier text only (the cache is scoped per writer)

    def to_wire(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens}


@dataclass(frozen=True)
class Token:
    id: str
    index: int  # which alternative
    text: str

    def to_wire(self) -> dict:
        return {"type": "token", "id": self.id, "index": self.index, "text": self.text}


@dataclass(frozen=True)
class Done:
    id: str
    index: int
    finish_reason: str  # length | stop | cancelled | prefilled | dropped
    usage: Usage

    def to_wire(self) -> dict:
        return {"type": "done", "id": self.id, "index": self.index, "finish_reason": self.finish_reason,
                "usage": self.usage.to_wire()}


@dataclass(frozen=True)
class Error:
    id: str
    code: str
    message: str

    def to_wire(self) -> dict:
        return {"type": "error", "id": self.id, "code": self.code, "message": self.message}


Event = Token | Done | Error
