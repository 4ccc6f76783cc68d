"""The models writers can pick, read from the one registry, with availability
as the model tier itself sees it.

Where the load balancer's stats page is configured (WRITEUP_LB_STATS_URL),
one request to it tells which servers HAProxy's own health checks hold UP in
each route's pool, and why the others are down; this costs the instances
nothing. Otherwise each route's `/health` is asked through WRITEUP_UPSTREAM
(or straight at the registry's instances when there is no load balancer).
Nothing here looks at model files: the weights live on the model hosts.
"""
from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging

import httpx
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache

from contract.registry import Model, Registry, load_cached

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


def _server_down_reason(row: dict) -> str:
    """HAProxy's last check of one server, as a sentence."""
    if row["status"] == "MAINT" or row["status"].startswith("MAINT"):
        return "in maintenance (drained by an operator)"
    desc, code, info = row.get("check_desc", ""), row.get("check_code", ""), row.get("last_chk", "")
    if code:
        return f"health check answered {code}" + (f" ({info})" if info else "")
    return ": ".join(filter(None, [desc, info])) or row["status"]


def _route_state(rows: list[dict]) -> tuple[bool, str]:
    if not rows:
        return False, "No instance serves this model."
    # "UP 1/2" is an UP server whose checks just started failing; "no check" is UP by fiat.
    up = [r for r in rows if r["status"].startswith("UP") or r["status"] == "no check"]
    if up:
        return True, "ready"
    reasons = sorted({_server_down_reason(r) for r in rows})
    return False, (f"No instance of this model is up ({len(rows)} down: {'; '.join(reasons)}). "
                   "It is starting or restarting; suggestions resume by themselves.")


async def _from_lb_stats(routes: list[str]) -> dict[str, tuple[bool, str]]:
    """Every route's state from one read of HAProxy's stats CSV."""
    timeout = httpx.Timeout(settings.WRITEUP_HEALTH_TIMEOUT)
    url = settings.WRITEUP_LB_STATS_URL.rstrip("/") + ";csv"
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            r = await client.get(url)
            r.raise_for_status()
    except httpx.HTTPError as e:
        log.warning("load balancer stats unreadable at %s: %r", url, e)
        reason = "The load balancer's status page is not answering, so this model's state is unknown."
        return {route: (False, reason) for route in routes}
    servers: dict[str, list[dict]] = {}
    for row in csv.DictReader(io.StringIO(r.text.lstrip("# "))):
        if row["pxname"].startswith("route_") and row["svname"] not in ("FRONTEND", "BACKEND"):
            servers.setdefault(row["pxname"][len("route_"):], []).append(row)
    return {route: _route_state(servers.get(route, [])) for route in routes}


async def _probe_all(reg: Registry) -> dict[str, tuple[bool, str]]:
    if settings.WRITEUP_LB_STATS_URL:
        return await _from_lb_stats(list(reg.models))
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
    where = f"{reg.path}|{settings.WRITEUP_UPSTREAM}|{settings.WRITEUP_LB_STATS_URL}"
    return "catalog:models:" + hashlib.sha1(where.encode()).hexdigest()[:16]


def list_models() -> list[dict]:
    """Every registry route with `available` and a human `reason`; the model
    tier's answer is cached for WRITEUP_MODELS_CACHE_SECONDS."""
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
    entries = [_entry(reg.model(route), available, reason) for route, (available, reason) in health.items()]
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
