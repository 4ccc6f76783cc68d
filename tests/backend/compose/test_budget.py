"""Writers and their budgets: every request goes upstream with the socket's
writer key, and a writer's requests in flight are limited together across all
their sockets (real Redis), while other writers are unaffected."""
import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from backend.metrics import OVER_QUOTA
from tests.backend.conftest import assert_silent, generate, open_socket, receive
from tests.support.services import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def anonymous_session() -> dict:
    session = SessionStore()
    session["seen"] = True
    session.create()
    return {django_settings.SESSION_COOKIE_NAME: session.session_key}


@sync_to_async
def signed_in_session(username: str) -> dict:
    user = get_user_model().objects.create_user(username=username, email=f"{username}@example.com", password="pw-123456789")
    client = Client()
    client.force_login(user)
    return {django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value}


async def sent_upstream(recorder, rid_type="generate") -> dict:
    _, message = await recorder.next()
    assert message["type"] == rid_type, message
    return message


async def writer_of(comm, recorder, rid="w") -> str:
    await comm.send_json_to(generate(rid))
    message = await sent_upstream(recorder)
    return message["writer"]


@pytest.fixture
def small_budgets(settings):
    settings.COMPOSE_BUDGET_ANON_SEQUENCES = 3
    settings.COMPOSE_BUDGET_ANON_TOKENS = 100
    settings.COMPOSE_BUDGET_USER_SEQUENCES = 5
    settings.COMPOSE_BUDGET_USER_TOKENS = 200


async def test_writer_key_is_per_user_or_session_and_never_the_clients(recorder):
    a = await anonymous_session()
    a1, a2, b = await open_socket(a), await open_socket(a), await open_socket(await anonymous_session())
    bare1, bare2 = await open_socket(), await open_socket()
    made_up = await open_socket({django_settings.SESSION_COOKIE_NAME: "x" * 32})
    user = await signed_in_session("ada")
    u1, u2 = await open_socket(user), await open_socket(user)

    keys = {name: await writer_of(comm, recorder) for name, comm in
            [("a1", a1), ("a2", a2), ("b", b), ("bare1", bare1), ("bare2", bare2), ("made_up", made_up), ("u1", u1), ("u2", u2)]}
    assert keys["a1"] == keys["a2"]  # one anonymous writer on two tabs
    assert keys["u1"] == keys["u2"]  # one user on two tabs
    distinct = [keys[k] for k in ("a1", "b", "bare1", "bare2", "made_up", "u1")]
    assert len(set(distinct)) == len(distinct)  # no session, or an invented one: a writer of its own
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys.values())
    assert not {*user.values(), *a.values()} & set(keys.values())  # neither id nor session key leaves

    # The client cannot choose its scope.
    await a1.send_json_to({**generate("x"), "writer": keys["b"]})
    error = await receive(a1)
    assert (error["type"], error["id"], error["code"]) == ("error", "x", "invalid_request")
    assert "writer" in error["message"]
    await recorder.nothing()
    for comm in (a1, a2, b, bare1, bare2, made_up, u1, u2):
        await comm.disconnect(timeout=5)


async def test_a_writers_sockets_share_one_budget(recorder, small_budgets):
    a = await anonymous_session()
    tab1, tab2 = await open_socket(a), await open_socket(a)
    other = await open_socket(await anonymous_session())

    await tab1.send_json_to(generate("r1", n=2, max_tokens=10))
    first = await sent_upstream(recorder)
    assert first["params"]["n"] == 2
    refused_before = OVER_QUOTA.labels("anon")._value.get()
    # 2 + 2 alternatives > 3: refused, and nothing goes upstream.
    await tab2.send_json_to(generate("r2", n=2, max_tokens=10))
    error = await receive(tab2)
    assert (error["type"], error["id"], error["code"]) == ("error", "r2", "over_quota")
    assert OVER_QUOTA.labels("anon")._value.get() == refused_before + 1  # counted by writer class
    assert "across all your tabs" in error["message"] and "sign in" in error["message"]
    await recorder.nothing()
    # What still fits is served.
    await tab2.send_json_to(generate("r3", n=1, max_tokens=10))
    await sent_upstream(recorder)
    # Another writer has a budget of their own.
    await other.send_json_to(generate("o1", n=3, max_tokens=10))
    await sent_upstream(recorder)
    for comm in (tab1, tab2, other):
        await assert_silent(comm)
        await comm.disconnect(timeout=5)


async def test_tokens_in_flight_are_budgeted_too(recorder, small_budgets):
    a = await anonymous_session()
    tab1, tab2 = await open_socket(a), await open_socket(a)
    await tab1.send_json_to(generate("r1", max_tokens=60))
    await sent_upstream(recorder)
    await tab2.send_json_to(generate("r2", max_tokens=60))  # 120 tokens > 100
    assert (await receive(tab2))["code"] == "over_quota"
    await tab2.send_json_to(generate("r3", max_tokens=40))  # 100 fits
    await sent_upstream(recorder)
    # A request bigger than the whole budget is refused as such.
    await tab2.send_json_to(generate("big", n=4, max_tokens=10))
    error = await receive(tab2)
    assert error["code"] == "over_quota" and "Ask for fewer" in error["message"]
    for comm in (tab1, tab2):
        await comm.disconnect(timeout=5)


async def test_signed_in_writers_get_the_larger_budget(recorder, small_budgets):
    user = await signed_in_session("grace")
    tab1, tab2 = await open_socket(user), await open_socket(user)
    await tab1.send_json_to(generate("r1", n=4, max_tokens=10))
    await sent_upstream(recorder)  # 4 > the anonymous 3
    await tab2.send_json_to(generate("r2", n=2, max_tokens=10))  # 6 > 5
    error = await receive(tab2)
    assert error["code"] == "over_quota" and "signed-in" in error["message"]
    for comm in (tab1, tab2):
        await comm.disconnect(timeout=5)


async def full_and_refused(recorder, holder, waiter) -> tuple:
    """`holder` takes the whole anonymous budget; `waiter` is refused.
    Returns the upstream connection and the request it got."""
    await holder.send_json_to(generate("h", n=3, max_tokens=10))
    ws, held = await recorder.next()
    assert held["type"] == "generate"
    await waiter.send_json_to(generate("w1", max_tokens=10))
    assert (await receive(waiter))["code"] == "over_quota"
    return ws, held


async def served(recorder, waiter, rid="w2") -> dict:
    await waiter.send_json_to(generate(rid, max_tokens=10))
    return await sent_upstream(recorder)


async def test_budget_is_freed_when_a_request_ends_upstream(recorder, small_budgets):
    a = await anonymous_session()
    holder, waiter = await open_socket(a), await open_socket(a)
    ws, held = await full_and_refused(recorder, holder, waiter)
    for index in range(3):
        await ws.send(json.dumps({"type": "done", "id": held["id"], "index": index, "finish_reason": "length"}))
    for _ in range(3):
        assert (await receive(holder))["type"] == "done"
    await served(recorder, waiter)

    # An upstream error ends a request too.
    b = await anonymous_session()
    holder2, waiter2 = await open_socket(b), await open_socket(b)
    ws, held = await full_and_refused(recorder, holder2, waiter2)
    await ws.send(json.dumps({"type": "error", "id": held["id"], "code": "busy", "message": "Full."}))
    assert (await receive(holder2))["code"] == "busy"
    await served(recorder, waiter2)
    for comm in (holder, waiter, holder2, waiter2):
        await comm.disconnect(timeout=5)


async def test_budget_is_freed_by_cancel_and_by_disconnect(recorder, small_budgets):
    a = await anonymous_session()
    holder, waiter = await open_socket(a), await open_socket(a)
    _, held = await full_and_refused(recorder, holder, waiter)
    await holder.send_json_to({"type": "cancel", "id": "h"})
    assert [(await receive(holder))["finish_reason"] for _ in range(3)] == ["cancelled"] * 3
    _, cancel = await recorder.next()
    assert cancel == {"type": "cancel", "id": held["id"]}
    await served(recorder, waiter)
    await waiter.disconnect(timeout=5)
    _, cancel = await recorder.next()
    assert cancel["type"] == "cancel"

    # A writer who closes a tab gets its share back at once.
    third = await open_socket(a)
    await full_and_refused(recorder, holder, third)
    await holder.disconnect(timeout=5)
    await recorder.next()  # its cancel
    await served(recorder, third)
    # Replacing a request (same id, the writer typed on) swaps its lease.
    await third.send_json_to(generate("w2", n=3, max_tokens=10))
    _, cancel = await recorder.next()
    assert cancel["type"] == "cancel"
    assert (await sent_upstream(recorder))["params"]["n"] == 3
    await third.disconnect(timeout=5)


async def test_a_lease_nobody_gives_back_expires(recorder, small_budgets, settings):
    settings.COMPOSE_BUDGET_LEASE_SECONDS = 0.5
    a = await anonymous_session()
    holder, waiter = await open_socket(a), await open_socket(a)
    await full_and_refused(recorder, holder, waiter)
    # As if the holder's backend died: its lease is never released or renewed.
    await asyncio.sleep(0.8)
    await served(recorder, waiter)
    for comm in (holder, waiter):
        await comm.disconnect(timeout=5)


async def test_without_redis_budgets_fail_open(recorder, small_budgets, settings, caplog):
    settings.COMPOSE_BUDGET_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    a = await anonymous_session()
    tab1, tab2 = await open_socket(a), await open_socket(a)
    with caplog.at_level(logging.WARNING, logger="backend.compose.budget"):
        await tab1.send_json_to(generate("r1", n=3, max_tokens=10))
        await sent_upstream(recorder)
        await tab2.send_json_to(generate("r2", n=3, max_tokens=10))
        await sent_upstream(recorder)
    assert "budgets not enforced" in caplog.text
    for comm in (tab1, tab2):
        await comm.disconnect(timeout=5)
