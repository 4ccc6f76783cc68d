"""Per-socket limits, read from settings when a socket opens."""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class SocketLimits:
    messages_per_second: float
    burst: int
    max_concurrent: int
    max_message_bytes: int
    max_watched: int
    connect_timeout: float
    idle_timeout: float

    @classmethod
    def from_settings(cls) -> "SocketLimits":
        return cls(
            messages_per_second=settings.COMPOSE_MESSAGES_PER_SECOND,
            burst=settings.COMPOSE_BURST,
            max_concurrent=settings.COMPOSE_MAX_CONCURRENT,
            max_message_bytes=settings.COMPOSE_MAX_MESSAGE_BYTES,
            max_watched=settings.COMPOSE_MAX_WATCHED,
            connect_timeout=settings.COMPOSE_UPSTREAM_CONNECT_TIMEOUT,
            idle_timeout=settings.COMPOSE_UPSTREAM_IDLE_TIMEOUT,
        )


class TokenBucket:
    """`rate` messages a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
