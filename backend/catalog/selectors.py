"""The models writers can pick, read from the one registry, with live availability."""
from __future__ import annotations

import asyncio
import hashlib
import logging

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from microservices import weights
from microservices.registry import Model, Registry, load_cached

log = logging.getLogger(__name__)


def registry() -> Registry:
    return load_cached(str(settings.WRITEUP_REGISTRY))


def health_urls(reg: Registry, route: str) -> list[str]:
    """Where to ask whether `route` is being served: the load balancer's
    route when there is one, else every instance that lists the route."""
    if settings.WRITEUP_UPSTREAM:
        return [f"{settings.WRITEUP_UPSTREAM}/{route}/health"]
    return [f"http://{i.host}:{i.port}/{route}/health" for i in reg.instances_for(route)]


async def _probe(client: httpx.AsyncClient, urls: list[str]) -> tuple[bool, str]:
    if not urls:
        return False, "No instance in the registry serves this model."
    answers = await asyncio.gather(*(client.get(u) for u in urls), return_exceptions=True)
    for answer in answers:
        if isinstance(answer, httpx.Response) and answer.status_code == 200:
            return True, "ready"
    first = answers[0]
    if isinstance(first, httpx.Response):
        return False, f"The model is starting or unhealthy (health check answered {first.status_code})."
    return False, "The model's server is not running or not reachable."


async def _probe_all(reg: Registry) -> dict[str, tuple[bool, str]]:
    timeout = httpx.Timeout(settings.WRITEUP_HEALTH_TIMEOUT)
    async with httpx.AsyncClient(timeout=timeout) as client:
        routes = list(reg.models)
        results = await asyncio.gather(*(_probe(client, health_urls(reg, r)) for r in routes))
    return dict(zip(routes, results))


def _entry(model: Model, available: bool, reason: str) -> dict:
    limits = model.limits
    return {
        "route": model.route,
        "name": model.name,
        "genre": model.genre,
        "description": model.description,
        "available": available,
        "reason": reason,
        "limits": {
            "max_new_tokens": limits.max_new_tokens,
            "max_n": limits.max_n,
            "context": limits.context,
            "max_prompt_chars": limits.max_prompt_chars,
        },
    }


def _cache_key(reg: Registry) -> str:
    where = f"{reg.path}|{settings.WRITEUP_UPSTREAM}"
    return "catalog:models:" + hashlib.sha1(where.encode()).hexdigest()[:16]


def list_models() -> list[dict]:
    """Every registry route with `available` and a human `reason`; health
    answers are cached for WRITEUP_MODELS_CACHE_SECONDS."""
    reg = registry()
    key = _cache_key(reg)
    try:
        cached = cache.get(key)
    except Exception as e:  # noqa: BLE001 - a dead cache only costs a fresh probe
        log.warning("models cache unavailable: %r", e)
        cached = None
    if cached is not None:
        return cached
    health = async_to_sync(_probe_all)(reg)
    entries = []
    for route, (available, reason) in health.items():
        if not available:
            # A missing checkpoint explains a dead route better than "not reachable".
            has_weights, why = weights.availability(reg.base_of(route))
            if not has_weights:
                reason = why
        entries.append(_entry(reg.model(route), available, reason))
    try:
        cache.set(key, entries, settings.WRITEUP_MODELS_CACHE_SECONDS)
    except Exception:  # noqa: BLE001
        pass
    return entries


def genre_by_route() -> dict[str, str]:
    """Each registry route's genre; empty when the registry cannot be read,
    so publishing never fails over a label."""
    try:
        return {route: model.genre for route, model in registry().models.items()}
    except Exception as e:  # noqa: BLE001 - a broken registry is reported by /api/models/
        log.warning("registry unreadable, pieces get no genre: %r", e)
        return {}
