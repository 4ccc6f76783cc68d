"""The whole stack as real processes on free loopback ports, for breaking on
purpose: Redis, two tiny-gpt2 instances (each with a fault file that fails
its health check), HAProxy in front of them, and the backend (daphne)
relaying through HAProxy. Each test starts from a healthy stack: whatever
the previous test killed, stopped or faulted is brought back first."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import websockets

from tests.stack.haproxy import HAProxy
from tests.support.backend import Backend
from tests.support.services import Microservice, Redis, free_port

ROUTE = "tiny-gpt2"
POOL = f"route_{ROUTE}"
# Low enough that a stalled model is reported within the test, high enough
# that a tiny model on a busy 2-core machine never trips it by accident.
IDLE_TIMEOUT = 4


@dataclass
class Stack:
    redis: Redis
    instances: dict[str, Microservice]
    faults: dict[str, Path]
    lb: HAProxy
    backend: Backend

    def restore(self) -> None:
        for path in self.faults.values():
            path.unlink(missing_ok=True)
        for ms in self.instances.values():
            if ms.alive:
                os.killpg(ms.proc.pid, signal.SIGCONT)
            else:
                ms.start()
        if not self.redis.alive:
            self.redis.start(timeout=20)
        if not self.backend.alive:
            self.backend.start()
        for iid in self.instances:
            self.lb.wait_status(POOL, iid, "UP", timeout=60)

    def home_of(self, document: str) -> str:
        """The instance HAProxy pins a document's requests to (the backend
        sends the same digest as ?doc=)."""
        key = hashlib.sha1(document.encode()).hexdigest()
        r = httpx.get(f"{self.lb.url}/{ROUTE}/info", headers={"X-Writeup-Document": key}, timeout=15)
        return r.headers["x-writeup-instance"]

    def served(self, iid: str) -> float:
        return sum(self.instances[iid].metric("writeup_requests_total", route=ROUTE, outcome=o)
                   for o in ("length", "stop", "cancelled", "error"))


@pytest.fixture(scope="package")
def stack(tiny_registry, tmp_path_factory):
    work = tmp_path_factory.mktemp("reliability")
    redis = Redis()
    faults = {iid: work / f"fault-{iid}" for iid in ("tiny-gpt2-1", "tiny-gpt2-2")}
    instances = {iid: Microservice(tiny_registry, iid, free_port(), env={"WRITEUP_FAULT_FILE": str(faults[iid])})
                 for iid in faults}
    started = [redis, *instances.values()]
    try:
        redis.start(timeout=20)
        for ms in instances.values():
            ms.start()
        lb = HAProxy(tiny_registry, [{"id": iid, "host": "127.0.0.1", "port": ms.port, "routes": [ROUTE]}
                                     for iid, ms in instances.items()], work)
        started.append(lb.start(timeout=20))
        backend = Backend(work, tiny_registry, upstream=lb.url, redis_url=redis.url,
                          env={"WRITEUP_UPSTREAM_IDLE_TIMEOUT": str(IDLE_TIMEOUT), "WRITEUP_MODELS_CACHE_SECONDS": "0",
                               # Autosave loops go as fast as the server answers; the throttle has tests of its own.
                               "WRITEUP_WRITE_THROTTLE": "100000/min",
                               # These tests fill the instance on purpose; writer budgets, which would stop
                               # them first, are tested on their own (tests/backend/compose/test_budget.py).
                               "WRITEUP_BUDGET_REDIS_URL": ""})
        started.append(backend.start())
        s = Stack(redis, instances, faults, lb, backend)
        s.restore()
        yield s
    finally:
        for service in reversed(started):
            if service.alive and isinstance(service, Microservice):
                os.killpg(service.proc.pid, signal.SIGCONT)
            service.stop()


@pytest.fixture
def healthy(stack):
    stack.restore()
    return stack


# --- the writer's side: a compose socket to the backend ---------------------


def compose(stack: Stack, headers: dict | None = None):
    return websockets.connect(stack.backend.ws_url, origin=stack.backend.origin, additional_headers=headers or {},
                              open_timeout=15, proxy=None)


def generate(rid: str, prompt: str = "Once upon a time", document: str | None = None, **params) -> str:
    msg = {"type": "generate", "id": rid, "model": ROUTE, "prompt": prompt, "params": {"max_tokens": 8, **params}}
    if document:
        msg["document"] = document
    return json.dumps(msg)


async def receive(ws, timeout: float = 60) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def finals(ws, want: dict[str, int], timeout: float = 90) -> dict[str, list[dict]]:
    """Read until every id in `want` (id -> n) has its `done`s or an error."""
    out: dict[str, list[dict]] = {}
    want = dict(want)
    async with asyncio.timeout(timeout):
        while want:
            m = json.loads(await ws.recv())
            rid = m.get("id")
            if m.get("type") in ("done", "error") and rid in want:
                out.setdefault(rid, []).append(m)
                if m["type"] == "error" or len(out[rid]) == want[rid]:
                    del want[rid]
    return out
