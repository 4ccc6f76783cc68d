"""Fair share of the model tier: each writer's budget across all their sockets.

A writer (backend/compose/writer.py) may have so many alternatives in flight
(`n` of each `generate`) and so many tokens reserved (`n * max_tokens`) at
once, summed over every socket and backend process. The leases live in Redis,
one sorted set per writer scored by expiry: a request takes a lease before it
goes upstream and gives it back when it ends; a lease its backend never gave
back (a crash) expires, and a live stream renews its socket's leases as it runs.

Without Redis the budget is not enforced (logged): composing keeps working,
as it does for everything else that lives in Redis.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from dataclasses import dataclass

import redis.asyncio as redis
from django.conf import settings
from redis.exceptions import RedisError

from backend.metrics import OVER_QUOTA

from .messages import ProtocolError
from .writer import Writer

log = logging.getLogger(__name__)

# Take a lease if it fits. Members are "<lease>:<seqs>:<tokens>"; Redis's own
# clock scores them, so backends with skewed clocks agree on what expired.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local seqs, tokens = 0, 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local s, k = string.match(m, ':(%d+):(%d+)$')
  seqs = seqs + tonumber(s)
  tokens = tokens + tonumber(k)
end
if seqs + tonumber(ARGV[2]) > tonumber(ARGV[4]) or tokens + tonumber(ARGV[3]) > tonumber(ARGV[5]) then
  return {0, seqs, tokens}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, seqs, tokens}
"""

# Push the expiry of leases still held (XX: never revive a released one).
_RENEW = """
local t = redis.call('TIME')
local until_ms = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# After Redis fails, skip it for this long instead of paying a timeout per request.
_RETRY_AFTER = 5.0

_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> (url, client)
_down_until = 0.0


def _client() -> redis.Redis:
    """One connection pool per event loop (a pool cannot cross loops)."""
    loop = asyncio.get_running_loop()
    url = settings.COMPOSE_BUDGET_REDIS_URL
    cached = _clients.get(loop)
    if cached is None or cached[0] != url:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1.0)
        _clients[loop] = cached = (url, client)
    return cached[1]


def _unavailable(what: str, error: Exception) -> None:
    global _down_until
    if time.monotonic() >= _down_until:
        log.warning("compose budgets not enforced for %g s: Redis failed on %s (%s)", _RETRY_AFTER, what, error)
    _down_until = time.monotonic() + _RETRY_AFTER


def _redis_down() -> bool:
    return time.monotonic() < _down_until


@dataclass(frozen=True)
class Limits:
    sequences: int
    tokens: int

    @classmethod
    def for_writer(cls, writer: Writer) -> "Limits":
        if writer.signed_in:
            return cls(settings.COMPOSE_BUDGET_USER_SEQUENCES, settings.COMPOSE_BUDGET_USER_TOKENS)
        return cls(settings.COMPOSE_BUDGET_ANON_SEQUENCES, settings.COMPOSE_BUDGET_ANON_TOKENS)


class WriterBudget:
    """One socket's view of its writer's budget: the leases it holds."""

    def __init__(self, writer: Writer):
        self.writer = writer
        self.limits = Limits.for_writer(writer)
        self._key = f"writeup:budget:{writer.key}"
        self._socket = uuid.uuid4().hex[:12]
        self._ttl_ms = int(settings.COMPOSE_BUDGET_LEASE_SECONDS * 1000)
        self._held: set[str] = set()
        self._renewed = time.monotonic()

    async def acquire(self, request_id: str, upstream_id: str, sequences: int, tokens: int) -> str | None:
        """Reserve a request's share, or raise `over_quota`. Returns the lease
        to give back (None when nothing was reserved)."""
        if sequences > self.limits.sequences or tokens > self.limits.tokens:
            raise self._refusal(request_id, sequences, tokens, alone=True)
        if _redis_down() or not settings.COMPOSE_BUDGET_REDIS_URL:  # empty: budgets switched off
            return None
        lease = f"{self._socket}/{upstream_id}:{sequences}:{tokens}"
        try:
            ok, held_seqs, held_tokens = await _client().eval(
                _ACQUIRE, 1, self._key, lease, sequences, tokens,
                self.limits.sequences, self.limits.tokens, self._ttl_ms,
            )
        except (RedisError, OSError) as e:
            _unavailable("acquire", e)
            return None
        if not ok:
            log.info(
                "over_quota writer_class=%s in_flight=%s/%s seqs %s/%s tokens, asked %s seqs %s tokens",
                self.writer.kind, held_seqs, self.limits.sequences, held_tokens, self.limits.tokens, sequences, tokens,
            )
            OVER_QUOTA.labels(self.writer.kind).inc()
            raise self._refusal(request_id, sequences, tokens, alone=False)
        self._held.add(lease)
        return lease

    async def release(self, lease: str | None) -> None:
        if lease is None or lease not in self._held:
            return
        self._held.discard(lease)
        if _redis_down():
            return  # it expires by itself
        try:
            await _client().zrem(self._key, lease)
        except (RedisError, OSError) as e:
            _unavailable("release", e)

    async def release_all(self) -> None:
        held, self._held = list(self._held), set()
        if not held or _redis_down():
            return
        try:
            await _client().zrem(self._key, *held)
        except (RedisError, OSError) as e:
            _unavailable("release", e)

    async def renew(self) -> None:
        """Keep this socket's leases alive while their streams run; cheap to
        call on every upstream message (it writes a few times per lease period)."""
        now = time.monotonic()
        if not self._held or now - self._renewed < self._ttl_ms / 3000 or _redis_down():
            return
        self._renewed = now
        try:
            await _client().eval(_RENEW, 1, self._key, self._ttl_ms, *self._held)
        except (RedisError, OSError) as e:
            _unavailable("renew", e)

    def _refusal(self, request_id: str, sequences: int, tokens: int, alone: bool) -> ProtocolError:
        who = "a signed-in writer" if self.writer.signed_in else "an anonymous writer (sign in for more)"
        budget = f"{self.limits.sequences} alternatives and {self.limits.tokens} tokens"
        if alone:
            text = (
                f"This request asks for {sequences} alternatives and {tokens} tokens; "
                f"{who} may have at most {budget} in flight. Ask for fewer or shorter alternatives."
            )
        else:
            text = (
                f"You already have as much in flight as {who} may ({budget}, across all your tabs); "
                "wait for a suggestion to finish or cancel one, then retry."
            )
        return ProtocolError("over_quota", text, request_id)
