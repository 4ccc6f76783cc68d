"""Backend test fixtures: the real Redis and tiny-model microservice from
tests/conftest.py, wired into Django's settings; helpers for REST and the
compose socket."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import override_settings

from tests.support.services import database_under_test, shared_postgres

ORIGIN = b"http://localhost"


@pytest.fixture(scope="session", autouse=True)
def backend_settings(redis_server, tiny_registry):
    """Every backend test talks to a real Redis and reads the tiny registry."""
    base = f"redis://127.0.0.1:{redis_server.port}"
    with override_settings(
        CHANNEL_LAYERS={
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [f"{base}/0"]}}
        },
        CACHES={
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"{base}/1",
                "KEY_PREFIX": "writeup-test",
            }
        },
        WRITEUP_REGISTRY=Path(tiny_registry),
        WRITEUP_UPSTREAM="",
        # Django's test client calls itself testserver; the socket helpers' origin is below.
        SITE_URL="http://testserver",
        WS_ALLOWED_ORIGINS=[ORIGIN.decode()],
    ):
        yield


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """The test database: a real PostgreSQL server when WRITEUP_TEST_DATABASE=postgres
    (scripts/test's second pass over the backend suites), else a file-backed
    SQLite one, as in production: Django's default in-memory one locks whole
    tables across threads, which the compose consumer and concurrent
    autosaves would trip over."""
    from django.conf import settings
    from django.db import connections

    db = settings.DATABASES["default"]
    if database_under_test() == "postgres":
        pg = shared_postgres()
        db.update(ENGINE="django.db.backends.postgresql", NAME="writeup", USER="postgres", PASSWORD="",
                  HOST="127.0.0.1", PORT=str(pg.port), OPTIONS={}, CONN_MAX_AGE=0)
        db.setdefault("TEST", {})["NAME"] = "test_writeup"
        # A connection object made before this (with the SQLite engine) must not be reused.
        if hasattr(connections._connections, "default"):
            connections["default"].close()
            del connections["default"]
    elif db["ENGINE"].endswith("sqlite3"):
        db.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("db") / "test.sqlite3")


@pytest.fixture(autouse=True)
def fresh_cache():
    # Throttle counters and cached health answers must not leak between tests.
    cache.clear()


def registry_with_ports(tiny_registry: Path, folder: Path, ports: dict[str, int]) -> Path:
    """A copy of the tiny registry whose instances listen on the given ports."""
    data = yaml.safe_load(Path(tiny_registry).read_text())
    for inst in data["instances"]:
        if inst["id"] in ports:
            inst["port"] = ports[inst["id"]]
    path = Path(folder) / "models.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- compose socket helpers -------------------------------------------------


def communicator(cookies: dict | None = None, origin: bytes | None = ORIGIN, host: bytes | None = None) -> WebsocketCommunicator:
    from backend.asgi import application

    headers = [(b"host", host)] if host else []
    if origin is not None:
        headers.append((b"origin", origin))
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return WebsocketCommunicator(application, "/ws/compose/", headers=headers)


async def open_socket(cookies: dict | None = None) -> WebsocketCommunicator:
    comm = communicator(cookies)
    connected, _ = await comm.connect(timeout=10)
    assert connected
    return comm


def generate(rid: str, model: str = "tiny-gpt2", prompt: str = "Once upon a time", **params) -> dict:
    return {"type": "generate", "id": rid, "model": model, "prompt": prompt, "params": {"max_tokens": 8, **params}}


async def receive(comm: WebsocketCommunicator, timeout: float = 30) -> dict:
    return await comm.receive_json_from(timeout=timeout)


async def collect(comm: WebsocketCommunicator, want: dict[str, int], timeout: float = 60):
    """Read until every id in `want` (id -> n) has all its `done`s or an error.
    Returns (texts by (id, index), final messages by id, everything in order)."""
    texts, finals, seen = {}, {}, []
    want = dict(want)
    async with asyncio.timeout(timeout):
        while want:
            m = await comm.receive_json_from(timeout=timeout)
            seen.append(m)
            rid = m.get("id")
            if m["type"] == "token":
                texts[(rid, m["index"])] = texts.get((rid, m["index"]), "") + m["text"]
            elif m["type"] in ("done", "error"):
                finals.setdefault(rid, []).append(m)
                if m["type"] == "error" or len(finals[rid]) == want.get(rid, 0):
                    want.pop(rid, None)
    return texts, finals, seen


async def assert_silent(comm: WebsocketCommunicator, seconds: float = 0.3) -> None:
    assert await comm.receive_nothing(timeout=seconds), "unexpected message"
