"""How to sample one request: a frozen value that travels unchanged from the
editor's message (or the OpenAI body) through the relay to the sampler.
Torch-free, so the backend imports it too."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 40
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def to_wire(self) -> dict:
        """The `params` object of a compose message, every field spelled out."""
        wire = asdict(self)
        wire["stop"] = list(self.stop)
        return wire
