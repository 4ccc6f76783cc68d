"""A draft open in two tabs stays in sync: an autosave in one reaches the
other through a Channels group on the real Redis."""
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from tests.backend.conftest import assert_silent, open_socket, receive

pytestmark = pytest.mark.django_db(transaction=True)


async def new_draft(client, **data) -> dict:
    r = await sync_to_async(client.post)("/api/documents/", data, format="json")
    assert r.status_code == 201
    return r.json()


async def autosave(client, doc_id, **data):
    return await sync_to_async(client.patch)(f"/api/documents/{doc_id}/", data, format="json")


async def watch(comm, doc_id) -> dict:
    await comm.send_json_to({"type": "watch", "document": doc_id})
    return await receive(comm, timeout=10)


async def test_autosave_in_one_tab_reaches_the_other():
    writer = APIClient()
    doc = await new_draft(writer, title="Draft", body="first words")
    cookie = {"sessionid": writer.cookies["sessionid"].value}
    tab1, tab2 = await open_socket(cookie), await open_socket(cookie)
    stranger = await open_socket()
    for tab in (tab1, tab2):
        assert await watch(tab, doc["id"]) == {"type": "watching", "document": doc["id"]}

    r = await autosave(writer, doc["id"], version=1, body="first words, then more", origin="tab-1")
    assert r.status_code == 200
    expected = {
        "type": "document_updated",
        "document": doc["id"],
        "version": 2,
        "title": "Draft",
        "body": "first words, then more",
        "spans": [],
        "origin": "tab-1",
    }
    assert await receive(tab1, timeout=10) == expected  # tab 1 skips it by its origin tag
    assert await receive(tab2, timeout=10) == expected
    await assert_silent(stranger)

    # A stale save changes nothing, so it is not broadcast.
    assert (await autosave(writer, doc["id"], version=1, body="stale")).status_code == 409
    await assert_silent(tab2)

    await tab2.send_json_to({"type": "unwatch", "document": doc["id"]})
    await assert_silent(tab2, 0.2)
    await autosave(writer, doc["id"], version=2, title="Renamed")
    assert (await receive(tab1, timeout=10))["title"] == "Renamed"
    await assert_silent(tab2)
    for comm in (tab1, tab2, stranger):
        await comm.disconnect(timeout=5)


async def test_only_the_owner_may_watch():
    owner, other = APIClient(), APIClient()
    doc = await new_draft(owner, body="private")
    await new_draft(other, body="theirs")
    snoop = await open_socket({"sessionid": other.cookies["sessionid"].value})
    reply = await watch(snoop, doc["id"])
    assert (reply["type"], reply["code"], reply["document"]) == ("error", "forbidden", doc["id"])
    anonymous = await open_socket()
    assert (await watch(anonymous, doc["id"]))["code"] == "forbidden"
    await autosave(owner, doc["id"], version=1, body="still private")
    await assert_silent(snoop)
    await assert_silent(anonymous)
    for comm in (snoop, anonymous):
        await comm.disconnect(timeout=5)


async def test_signed_in_users_sync_across_their_sessions():
    user = await sync_to_async(get_user_model().objects.create_user)("ada", password="pw-for-tests-only")
    laptop, phone = APIClient(), APIClient()
    await sync_to_async(laptop.force_login)(user)
    await sync_to_async(phone.force_login)(user)
    doc = await new_draft(laptop, body="on the laptop")
    phone_tab = await open_socket({"sessionid": phone.cookies["sessionid"].value})
    assert (await watch(phone_tab, doc["id"]))["type"] == "watching"
    await autosave(laptop, doc["id"], version=1, body="on the laptop, later")
    assert (await receive(phone_tab, timeout=10))["body"] == "on the laptop, later"
    await phone_tab.disconnect(timeout=5)


async def test_watch_limit(settings):
    settings.COMPOSE_MAX_WATCHED = 2
    writer = APIClient()
    docs = [await new_draft(writer) for _ in range(3)]
    tab = await open_socket({"sessionid": writer.cookies["sessionid"].value})
    assert (await watch(tab, docs[0]["id"]))["type"] == "watching"
    assert (await watch(tab, docs[1]["id"]))["type"] == "watching"
    assert (await watch(tab, docs[0]["id"]))["type"] == "watching"  # watching again is not another
    assert (await watch(tab, docs[2]["id"]))["code"] == "too_many_requests"
    await tab.disconnect(timeout=5)


async def test_sync_recovers_after_redis_restarts(settings):
    import asyncio

    from tests.support.services import start_redis

    redis = await asyncio.to_thread(start_redis)
    try:
        settings.CHANNEL_LAYERS = {
            "default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": [redis.url]}}
        }
        writer = APIClient()
        doc = await new_draft(writer, body="v1")
        tab = await open_socket({"sessionid": writer.cookies["sessionid"].value})
        assert (await watch(tab, doc["id"]))["type"] == "watching"
        await asyncio.to_thread(redis.restart)
        # Notices sent while the subscription is re-established are lost (sync is
        # best effort); within seconds, with no new socket or watch, they flow again.
        version, got = 1, None
        async with asyncio.timeout(30):
            while got is None:
                r = await autosave(writer, doc["id"], version=version, body=f"v{version + 1}")
                assert r.status_code == 200  # saving never depends on Redis
                version += 1
                # receive_nothing waits without ending the app, unlike a receive timeout.
                if not await tab.receive_nothing(timeout=1):
                    got = await receive(tab)
        assert got["type"] == "document_updated" and got["version"] <= version
        await tab.disconnect(timeout=5)
    finally:
        await asyncio.to_thread(redis.stop)
