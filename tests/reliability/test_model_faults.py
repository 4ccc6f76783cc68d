"""Model instances failing behind HAProxy, seen from a writer's compose socket
on the real backend: a crash mid-stream, a failing health check, a stall."""
import asyncio
import os
import signal

import httpx

from tests.reliability.conftest import IDLE_TIMEOUT, POOL, ROUTE, compose, finals, generate, receive

# n=4 alternatives fill half of the tiny model's 8-slot batch, so of six such
# requests four wait their turn: streams are still going when the fault lands.
LONG = {"max_tokens": 64, "n": 4, "temperature": 1.0}
IDS = ("a", "b", "c", "d", "e", "f")
DOC = "5d1f3b0e-9a8c-4f2e-b7a1-0c6d2e4f8a90"  # pins the requests to one instance, found through HAProxy


async def test_instance_killed_mid_stream(healthy):
    stack = healthy
    victim = await asyncio.to_thread(stack.home_of, DOC)
    async with compose(stack) as ws:
        for rid in IDS:
            await ws.send(generate(rid, document=DOC, **LONG))
        first = await receive(ws)
        assert first["type"] == "token", first
        survivor = next(iid for iid in stack.instances if iid != victim)
        await asyncio.to_thread(stack.instances[victim].kill)

        ends = await finals(ws, dict.fromkeys(IDS, 4))
        errors = [m for ms in ends.values() for m in ms if m["type"] == "error"]
        assert errors, ends
        for error in errors:
            assert error["code"] == "model_unavailable"
            assert "Tiny GPT-2" in error["message"] and "try again" in error["message"]

        # The same socket, before HAProxy's checks have noticed: the new upstream
        # connection is refused by the dead instance and redispatched.
        before = await asyncio.to_thread(stack.served, survivor)
        await ws.send(generate("next", document=DOC, max_tokens=4))
        (done,) = (await finals(ws, {"next": 1}))["next"]
        assert done["type"] == "done" and done["finish_reason"] in ("length", "stop"), done
        assert await asyncio.to_thread(stack.served, survivor) > before
    await asyncio.to_thread(stack.lb.wait_status, POOL, victim, "DOWN")


async def test_failing_health_check_leaves_rotation_and_comes_back(healthy):
    stack = healthy
    stack.faults["tiny-gpt2-1"].touch()
    await asyncio.to_thread(stack.lb.wait_status, POOL, "tiny-gpt2-1", "DOWN")
    assert stack.lb.servers()[(POOL, "tiny-gpt2-2")] == "UP"
    for _ in range(6):
        r = httpx.get(f"{stack.lb.url}/{ROUTE}/info", timeout=15)
        assert r.headers["x-writeup-instance"] == "tiny-gpt2-2"
    # Writers keep working on the other instance, documents pinned to the faulty one included.
    async with compose(stack) as ws:
        for n in range(4):
            await ws.send(generate(f"g{n}", document=f"00000000-0000-4000-8000-00000000000{n}", max_tokens=3))
        ends = await finals(ws, {f"g{n}": 1 for n in range(4)})
        assert all(m["type"] == "done" for ms in ends.values() for m in ms), ends

    stack.faults["tiny-gpt2-1"].unlink()
    await asyncio.to_thread(stack.lb.wait_status, POOL, "tiny-gpt2-1", "UP")
    served = {httpx.get(f"{stack.lb.url}/{ROUTE}/info", timeout=15).headers["x-writeup-instance"] for _ in range(8)}
    assert served == {"tiny-gpt2-1", "tiny-gpt2-2"}


async def test_no_healthy_instance_is_model_unavailable(healthy):
    stack = healthy
    for path in stack.faults.values():
        path.touch()
    for iid in stack.instances:
        await asyncio.to_thread(stack.lb.wait_status, POOL, iid, "DOWN")
    models = httpx.get(f"{stack.backend.url}/api/models/", timeout=15).json()
    (entry,) = [m for m in models if m["route"] == ROUTE]
    assert entry["available"] is False and entry["reason"]
    async with compose(stack) as ws:
        await ws.send(generate("a"))
        error = await receive(ws)
        assert (error["type"], error["id"], error["code"]) == ("error", "a", "model_unavailable")

        for path in stack.faults.values():
            path.unlink()
        await asyncio.to_thread(stack.lb.wait_status, POOL, "tiny-gpt2-1", "UP")
        # The socket that saw the outage works again without reconnecting.
        await ws.send(generate("b", max_tokens=3))
        (done,) = (await finals(ws, {"b": 1}))["b"]
        assert done["type"] == "done", done


async def test_stalled_instance_times_out_with_a_clear_error(healthy):
    stack = healthy
    stalled = await asyncio.to_thread(stack.home_of, DOC)
    async with compose(stack) as ws:
        for rid in IDS:
            await ws.send(generate(rid, document=DOC, **LONG))
        assert (await receive(ws))["type"] == "token"
        os.killpg(stack.instances[stalled].proc.pid, signal.SIGSTOP)
        try:
            # HAProxy keeps the tunnel open (`timeout tunnel 1h`): only the backend's
            # idle timeout can end this request.
            ends = await finals(ws, dict.fromkeys(IDS, 4), timeout=IDLE_TIMEOUT + 60)
        finally:
            os.killpg(stack.instances[stalled].proc.pid, signal.SIGCONT)
        errors = [m for ms in ends.values() for m in ms if m["type"] == "error"]
        assert errors, ends
        for error in errors:
            assert error["code"] == "timeout", error
            assert f"produced nothing for {IDLE_TIMEOUT:g} s" in error["message"]

        await asyncio.to_thread(stack.lb.wait_status, POOL, stalled, "UP", 60)
        await ws.send(generate("b", document=DOC, max_tokens=3))
        (done,) = (await finals(ws, {"b": 1}))["b"]
        assert done["type"] == "done", done
