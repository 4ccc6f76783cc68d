"""The backend's own dependencies failing: Redis restarted under open tabs,
and the backend process itself killed in the middle of autosaves."""
import asyncio
import json
import sqlite3
import threading

import httpx

from tests.reliability.conftest import compose, finals, generate, receive
from tests.support.backend import cookie_header


async def save(http: httpx.Client, doc_id: str, **data) -> httpx.Response:
    return await asyncio.to_thread(http.patch, f"/api/documents/{doc_id}/", json=data)


async def next_update(ws, timeout: float = 5) -> dict:
    while True:
        m = await receive(ws, timeout)
        if m["type"] == "document_updated":
            return m


async def test_redis_restart_sync_recovers_without_restarting_the_backend(healthy):
    stack = healthy
    http = stack.backend.client()
    doc = http.post("/api/documents/", json={"title": "Two tabs", "body": "one"}).json()
    headers = cookie_header(http)
    async with compose(stack, headers) as tab1, compose(stack, headers) as tab2:
        for tab in (tab1, tab2):
            await tab.send(json.dumps({"type": "watch", "document": doc["id"]}))
            assert await receive(tab) == {"type": "watching", "document": doc["id"]}
        assert (await save(http, doc["id"], version=1, body="two")).status_code == 200
        for tab in (tab1, tab2):
            assert (await next_update(tab))["version"] == 2

        await asyncio.to_thread(stack.redis.stop)
        # Saving never depends on Redis: the draft is safe while sync is down.
        r = await save(http, doc["id"], version=2, body="three")
        assert r.status_code == 200 and r.json()["version"] == 3
        assert httpx.get(f"{stack.backend.url}/api/health/", timeout=10).json()["redis"] == "down"
        await asyncio.to_thread(stack.redis.start, 20)

        # The open tabs' subscriptions come back by themselves: keep saving
        # until a save reaches both (the first ones after the restart may be missed).
        version, reached = 3, set()
        for attempt in range(40):
            r = await save(http, doc["id"], version=version, body=f"after the restart {attempt}")
            assert r.status_code == 200, r.text
            version = r.json()["version"]
            for name, tab in (("tab1", tab1), ("tab2", tab2)):
                try:
                    while (m := await next_update(tab, timeout=1))["version"] < version:
                        pass
                except TimeoutError:
                    continue
                assert m["version"] == version and m["body"] == r.json()["body"]
                reached.add(name)
            if reached == {"tab1", "tab2"}:
                break
        assert reached == {"tab1", "tab2"}, "saves stopped reaching open tabs after Redis came back"
        assert httpx.get(f"{stack.backend.url}/api/health/", timeout=10).json()["redis"] == "ok"

        # A tab opened now watches, and composing on the old sockets never stopped working.
        async with compose(stack, headers) as tab3:
            await tab3.send(json.dumps({"type": "watch", "document": doc["id"]}))
            assert await receive(tab3) == {"type": "watching", "document": doc["id"]}
        await tab1.send(generate("g", max_tokens=3))
        (done,) = (await finals(tab1, {"g": 1}))["g"]
        assert done["type"] == "done", done


class AutosavingWriter(threading.Thread):
    """Saves a growing draft as fast as the backend answers, the way the
    editor does: the same save is retried while the server is unreachable,
    and a 409 whose `current` is exactly our text means our save landed but
    its answer was lost in the crash."""

    def __init__(self, backend, stop: threading.Event):
        super().__init__(daemon=True)
        self.http = backend.client()
        # A large draft, so each save takes long enough to be cut off by the kill.
        self.body = "It was a dark and stormy night. " * 4000
        self.doc = self.http.post("/api/documents/", json={"title": "autosave", "body": self.body}).json()
        self.version, self.acked, self.landed, self.unreachable = 1, self.body, 0, 0
        self.stop, self.problem = stop, None

    def run(self):
        word = 0
        try:
            while not self.stop.is_set():
                word += 1
                body = self.acked + f" word{word}"
                while not self._save(body):
                    self.unreachable += 1
                    if self.stop.wait(0.1):
                        return
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.problem = e

    def _save(self, body: str) -> bool:
        try:
            r = self.http.patch(f"/api/documents/{self.doc['id']}/", json={"version": self.version, "body": body})
        except httpx.TransportError:
            return False
        if r.status_code == 409 and r.json()["current"]["body"] == body:
            r = httpx.Response(200, json=r.json()["current"])
        if r.status_code != 200:
            raise AssertionError(f"autosave answered {r.status_code}: {r.text[:300]}")
        saved = r.json()
        assert saved["version"] == self.version + 1 and saved["body"] == body
        self.version, self.acked = saved["version"], body
        self.landed += 1
        return True


def test_backend_killed_mid_autosave_loses_and_corrupts_nothing(healthy):
    stack = healthy
    stop = threading.Event()
    writers = [AutosavingWriter(stack.backend, stop) for _ in range(2)]

    def wait_for_saves(count: int):
        targets = [w.landed + count for w in writers]
        for w, target in zip(writers, targets):
            while w.landed < target and w.is_alive():
                stop.wait(0.05)
            assert w.problem is None, w.problem

    for w in writers:
        w.start()
    try:
        wait_for_saves(5)
        stack.backend.kill()
        stack.backend.start()
        wait_for_saves(5)
    finally:
        stop.set()
        for w in writers:
            w.join(60)
    assert all(w.problem is None for w in writers), [w.problem for w in writers]
    assert any(w.unreachable for w in writers), "the kill should have cut some saves off"

    for w in writers:
        stored = w.http.get(f"/api/documents/{w.doc['id']}/").json()
        # Every acknowledged save is there, in order, and nothing half-written.
        assert stored["version"] == w.version == 1 + w.landed
        assert stored["body"] == w.acked
    with sqlite3.connect(stack.backend.db) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
