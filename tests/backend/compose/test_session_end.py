"""Sessions end everywhere: sign-out, a password change or reset, and account
deletion close the user's compose sockets (and stop their generations); a
socket whose session ended cannot `watch` either. Real Redis carries the
notice (a Channels group per user)."""
import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from rest_framework.test import APIClient

from backend.accounts.live import SESSION_ENDED
from tests.backend.compose.conftest import metric
from tests.backend.conftest import assert_silent, generate, open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


async def signed_in(user) -> tuple[APIClient, dict]:
    client = APIClient()
    await sync_to_async(client.force_login)(user)
    return client, {"sessionid": client.cookies["sessionid"].value}


async def new_user(name="ada"):
    return await sync_to_async(get_user_model().objects.create_user)(name, f"{name}@example.com", PASSWORD)


async def closed(comm, timeout: float = 10) -> int:
    """The close code the server sent (fails if it sends anything else)."""
    out = await comm.receive_output(timeout=timeout)
    assert out["type"] == "websocket.close", out
    await comm.disconnect()  # as the browser would answer; lets the consumer finish
    return out["code"]


async def watching(comm, doc_id):
    await comm.send_json_to({"type": "watch", "document": doc_id})
    assert await receive(comm, timeout=10) == {"type": "watching", "document": doc_id}


async def test_sign_out_closes_that_sessions_sockets_only():
    user = await new_user()
    laptop, laptop_cookie = await signed_in(user)
    phone, phone_cookie = await signed_in(user)
    doc = (await sync_to_async(laptop.post)("/api/documents/", {"title": "Diary", "body": "secret"}, format="json")).json()
    laptop_tab, phone_tab = await open_socket(laptop_cookie), await open_socket(phone_cookie)
    for tab in (laptop_tab, phone_tab):
        await watching(tab, doc["id"])

    assert (await sync_to_async(laptop.post)("/api/auth/signout/", format="json")).status_code == 200
    assert await closed(laptop_tab) == SESSION_ENDED
    # The phone is still signed in: its socket stays and still gets the saves.
    r = await sync_to_async(phone.patch)(f"/api/documents/{doc['id']}/", {"version": 1, "body": "more secret"},
                                         format="json")
    assert r.status_code == 200
    assert (await receive(phone_tab, timeout=10))["body"] == "more secret"
    await phone_tab.disconnect()


async def test_sign_out_stops_the_sockets_generations(direct):
    user = await new_user()
    client, cookie = await signed_in(user)
    tab = await open_socket(cookie)
    async def ended():
        return sum([await metric(direct, "writeup_requests_total", route="tiny-gpt2", outcome=o)
                    for o in ("cancelled", "length", "stop")])
    before = await ended()
    await tab.send_json_to(generate("long", max_tokens=64, temperature=1.0, n=4))
    assert (await receive(tab))["type"] == "token"
    await sync_to_async(client.post)("/api/auth/signout/", format="json")
    # The token stream may still be in flight; then the close.
    while (out := await tab.receive_output(timeout=10))["type"] != "websocket.close":
        assert out["type"] == "websocket.send"
    assert out["code"] == SESSION_ENDED
    await tab.disconnect()
    # Upstream nothing of it is left running (cancelled, or already finished:
    # the tiny model can outrun the sign-out).
    async with asyncio.timeout(30):
        while await ended() < before + 4 or await metric(direct, "writeup_active_sequences", route="tiny-gpt2"):
            await asyncio.sleep(0.2)


async def test_a_password_reset_or_change_closes_every_other_session():
    user = await new_user()
    (_, laptop), (_, phone) = await signed_in(user), await signed_in(user)
    tabs = [await open_socket(laptop), await open_socket(phone)]
    stranger = await open_socket()

    def change_password():
        user.set_password("a brand new long passphrase")
        user.save()

    await sync_to_async(change_password)()
    assert [await closed(tab) for tab in tabs] == [SESSION_ENDED, SESSION_ENDED]
    await assert_silent(stranger)
    await stranger.disconnect()


async def test_deleting_the_account_closes_its_sockets():
    user = await new_user()
    client, cookie = await signed_in(user)
    tab = await open_socket(cookie)
    r = await sync_to_async(client.delete)("/api/account/", {"password": PASSWORD}, format="json")
    assert r.status_code == 204
    assert await closed(tab) == SESSION_ENDED


async def test_watch_rechecks_the_session():
    """Without any notice (say Redis missed it), a socket whose session is
    gone cannot watch a draft: it is closed instead."""
    user = await new_user()
    client, cookie = await signed_in(user)
    doc = (await sync_to_async(client.post)("/api/documents/", {"title": "Diary"}, format="json")).json()
    tab = await open_socket(cookie)
    await watching(tab, doc["id"])
    await sync_to_async(Session.objects.all().delete)()
    await tab.send_json_to({"type": "watch", "document": doc["id"]})
    assert await closed(tab) == SESSION_ENDED
