"""The relay when its upstream dies, refuses, or stalls: a clear error for each
request it affects, and the next request works once the model is back."""
import asyncio
import os
import signal

import pytest
from prometheus_client import REGISTRY

from tests.backend.compose.conftest import metric, wait_for_metric
from tests.backend.conftest import assert_silent, collect, generate, open_socket, receive, registry_with_ports
from tests.support.services import free_port, start_microservice

pytestmark = pytest.mark.django_db(transaction=True)

LONG = {"max_tokens": 64, "temperature": 1.0}


@pytest.fixture(scope="module")
def fragile(tiny_registry):
    """A microservice of our own, to kill and stall."""
    ms = start_microservice(tiny_registry, "tiny-gpt2-1")
    yield ms
    if ms.alive:
        os.killpg(ms.proc.pid, signal.SIGCONT)
    ms.stop()


@pytest.fixture
def via_fragile(settings, tmp_path, tiny_registry, fragile):
    settings.WRITEUP_UPSTREAM = ""
    settings.WRITEUP_REGISTRY = registry_with_ports(
        tiny_registry, tmp_path, {"tiny-gpt2-1": fragile.port, "tiny-gpt2-2": free_port()}
    )
    if not fragile.alive:
        fragile.start()
    return fragile


def backend_sample(name: str, **labels) -> float:
    """The backend's own metric (this process runs the relay)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until_error(comm, rid: str) -> dict:
    """Skip the request's tokens (some were in flight) until its error."""
    while True:
        m = await receive(comm)
        assert m["id"] == rid, m
        if m["type"] != "token":
            assert m["type"] == "error", m
            return m


async def test_upstream_killed_mid_stream_then_back(via_fragile):
    unavailable = backend_sample("writeup_backend_upstream_errors_total", model="tiny-gpt2", code="model_unavailable")
    in_flight = backend_sample("writeup_backend_compose_requests_in_flight")
    comm = await open_socket()
    await comm.send_json_to(generate("a", n=2, **LONG))
    first = await receive(comm)
    assert first["type"] == "token"
    assert backend_sample("writeup_backend_compose_requests_in_flight") == in_flight + 1
    await asyncio.to_thread(via_fragile.kill)
    error = await until_error(comm, "a")
    assert error["code"] == "model_unavailable"
    assert backend_sample("writeup_backend_upstream_errors_total", model="tiny-gpt2",
                          code="model_unavailable") == unavailable + 1
    assert backend_sample("writeup_backend_compose_requests_in_flight") == in_flight
    assert "Tiny GPT-2" in error["message"] and "try again" in error["message"]
    await assert_silent(comm, 0.5)  # one error ends the request: no done follows

    # While it is down every request says so, at once.
    await comm.send_json_to(generate("b"))
    error = await receive(comm)
    assert (error["id"], error["code"]) == ("b", "model_unavailable")
    assert "not reachable" in error["message"]

    await asyncio.to_thread(via_fragile.start)
    await comm.send_json_to(generate("c", max_tokens=3))
    _, finals, _ = await collect(comm, {"c": 1})
    assert finals["c"][0]["type"] == "done" and finals["c"][0]["finish_reason"] == "length"
    await comm.disconnect(timeout=5)


async def test_next_instance_is_tried_when_the_first_is_down(settings, tmp_path, tiny_registry, via_fragile):
    settings.WRITEUP_REGISTRY = registry_with_ports(
        tiny_registry, tmp_path, {"tiny-gpt2-1": free_port(), "tiny-gpt2-2": via_fragile.port}
    )
    comm = await open_socket()
    await comm.send_json_to(generate("a", max_tokens=3))
    _, finals, _ = await collect(comm, {"a": 1})
    assert finals["a"][0]["type"] == "done"
    await comm.disconnect(timeout=5)


async def test_stalled_upstream_times_out_and_is_cancelled(settings, via_fragile):
    settings.COMPOSE_UPSTREAM_IDLE_TIMEOUT = 1.0
    comm = await open_socket()
    # A first request leaves the upstream socket open and idle, its reader
    # waiting with no deadline: the next request must arm one.
    await comm.send_json_to(generate("warm", max_tokens=2))
    await collect(comm, {"warm": 1})
    before = await metric(via_fragile, "writeup_requests_total", route="tiny-gpt2", outcome="cancelled")
    await comm.send_json_to(generate("a", **LONG))
    assert (await receive(comm))["type"] == "token"
    os.killpg(via_fragile.proc.pid, signal.SIGSTOP)
    try:
        error = await until_error(comm, "a")
    finally:
        os.killpg(via_fragile.proc.pid, signal.SIGCONT)
    assert error["code"] == "timeout" and "1 s" in error["message"]
    assert backend_sample("writeup_backend_upstream_errors_total", model="tiny-gpt2", code="timeout") >= 1
    # The relay cancelled it upstream: once the model wakes, it stops.
    await wait_for_metric(via_fragile, "writeup_requests_total", before + 1, route="tiny-gpt2", outcome="cancelled")
    await wait_for_metric(via_fragile, "writeup_active_sequences", 0, route="tiny-gpt2")
    await comm.send_json_to(generate("b", max_tokens=3))
    _, finals, _ = await collect(comm, {"b": 1})
    assert finals["b"][0]["type"] == "done"
    await comm.disconnect(timeout=5)


async def test_upstream_that_never_answers_the_handshake(settings, via_fragile):
    settings.COMPOSE_UPSTREAM_CONNECT_TIMEOUT = 0.5
    comm = await open_socket()
    os.killpg(via_fragile.proc.pid, signal.SIGSTOP)
    try:
        await comm.send_json_to(generate("a"))
        await comm.send_json_to(generate("b"))
        errors = [await receive(comm, timeout=15), await receive(comm, timeout=15)]
    finally:
        os.killpg(via_fragile.proc.pid, signal.SIGCONT)
    assert sorted((e["id"], e["code"]) for e in errors) == [("a", "model_unavailable"), ("b", "model_unavailable")]
    await comm.send_json_to(generate("c", max_tokens=2))
    _, finals, _ = await collect(comm, {"c": 1})
    assert finals["c"][0]["type"] == "done"
    await comm.disconnect(timeout=5)
