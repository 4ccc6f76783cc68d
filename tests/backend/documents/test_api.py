"""Documents REST API: create, list, read, autosave, delete; ownership."""
import uuid

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backend.documents.models import Document

pytestmark = pytest.mark.django_db


def create(client, **data) -> dict:
    r = client.post("/api/documents/", data, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def save(client, doc_id, **data):
    return client.patch(f"/api/documents/{doc_id}/", data, format="json")


def test_create_list_read():
    client = APIClient()
    doc = create(client, title="Chapter one", body="It was a dark and stormy night.")
    assert set(doc) == {
        "id", "title", "body", "version", "created_at", "updated_at", "share_id", "published", "visibility", "spans",
        "hidden",
    }
    assert doc["version"] == 1 and doc["published"] is False and doc["share_id"] is None
    assert doc["visibility"] == "private" and doc["spans"] == [] and doc["hidden"] is False
    uuid.UUID(doc["id"])
    create(client, title="Chapter two")
    listed = client.get("/api/documents/").json()
    assert [d["title"] for d in listed] == ["Chapter two", "Chapter one"]  # most recent first
    assert client.get(f"/api/documents/{doc['id']}/").json() == doc


def test_empty_draft_and_whitespace_are_kept():
    client = APIClient()
    doc = create(client)
    assert doc["title"] == "" and doc["body"] == ""
    saved = save(client, doc["id"], version=1, body="  indented\n\n").json()
    assert saved["body"] == "  indented\n\n"


def test_first_draft_starts_a_session_but_reads_do_not():
    client = APIClient()
    assert client.get("/api/documents/").json() == []
    assert "sessionid" not in client.cookies
    create(client, title="t")
    assert client.cookies["sessionid"].value


def test_another_session_cannot_read_or_change_a_draft():
    mine, theirs = APIClient(), APIClient()
    doc = create(mine, title="secret", body="my private draft")
    create(theirs, title="their own")
    url = f"/api/documents/{doc['id']}/"
    assert [d["title"] for d in theirs.get("/api/documents/").json()] == ["their own"]
    for response in (
        theirs.get(url),
        save(theirs, doc["id"], version=1, body="vandalised"),
        theirs.delete(url),
        theirs.post(f"{url}publish/"),
        theirs.delete(f"{url}publish/"),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    # Same answer as for a document that does not exist: nothing leaks.
    assert theirs.get(f"/api/documents/{uuid.uuid4()}/").json() == theirs.get(url).json()
    stored = Document.objects.get(pk=doc["id"])
    assert stored.body == "my private draft" and stored.version == 1 and stored.share_id is None


def test_signed_in_user_owns_drafts_apart_from_anonymous_sessions():
    user = get_user_model().objects.create_user("ada", password="pw-for-tests-only")
    other = get_user_model().objects.create_user("bob", password="pw-for-tests-only")
    ada, bob, anon = APIClient(), APIClient(), APIClient()
    ada.force_login(user)
    bob.force_login(other)
    doc = create(ada, title="ada's")
    create(anon, title="anon's")
    assert Document.objects.get(pk=doc["id"]).owner == user
    assert [d["title"] for d in ada.get("/api/documents/").json()] == ["ada's"]
    assert bob.get("/api/documents/").json() == []
    assert bob.get(f"/api/documents/{doc['id']}/").status_code == 404
    assert anon.get(f"/api/documents/{doc['id']}/").status_code == 404


def test_autosave_bumps_the_version():
    client = APIClient()
    doc = create(client, title="t", body="one")
    r = save(client, doc["id"], version=1, body="one two")
    assert r.status_code == 200
    assert r.json()["version"] == 2 and r.json()["body"] == "one two" and r.json()["title"] == "t"
    r = save(client, doc["id"], version=2, title="Title")
    assert r.json()["version"] == 3 and r.json()["body"] == "one two" and r.json()["title"] == "Title"
    assert r.json()["updated_at"] >= doc["updated_at"]


def test_stale_autosave_gets_409_and_loses_nothing():
    tab1, tab2 = APIClient(), APIClient()
    doc = create(tab1, body="start")
    tab2.cookies = tab1.cookies  # the same writer in a second tab
    assert save(tab1, doc["id"], version=1, body="start, tab one").status_code == 200
    r = save(tab2, doc["id"], version=1, body="start, tab two")
    assert r.status_code == 409
    body = r.json()
    assert body["code"] == "version_conflict" and "version 2" in body["message"]
    assert body["current"]["version"] == 2 and body["current"]["body"] == "start, tab one"
    stored = Document.objects.get(pk=doc["id"])
    assert stored.body == "start, tab one" and stored.version == 2
    # Tab two merges and saves on top of what it was shown.
    r = save(tab2, doc["id"], version=2, body="start, tab one, tab two")
    assert r.status_code == 200 and r.json()["version"] == 3


def test_a_future_version_is_a_conflict_too():
    client = APIClient()
    doc = create(client, body="x")
    r = save(client, doc["id"], version=7, body="y")
    assert r.status_code == 409 and r.json()["current"]["body"] == "x"


@pytest.mark.parametrize(
    "data, field",
    [
        ({"body": "no version"}, "version"),
        ({"version": 0, "body": "x"}, "version"),
        ({"version": "one", "body": "x"}, "version"),
        ({"version": 1}, "non_field_errors"),
        ({"version": 1, "title": "t" * 201}, "title"),
        ({"version": 1, "body": 5}, "body"),
        ({"version": 1, "body": "x", "origin": "o" * 65}, "origin"),
    ],
)
def test_autosave_validation(data, field):
    client = APIClient()
    doc = create(client)
    r = save(client, doc["id"], **data)
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "invalid_request" and body["message"]
    assert field in body["errors"]


def test_malformed_json_and_wrong_shapes_get_error_codes():
    client = APIClient()
    r = client.post("/api/documents/", "{not json", content_type="application/json")
    assert r.status_code == 400 and r.json()["code"] == "parse_error"
    r = client.post("/api/documents/", [1, 2], format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    r = client.put(f"/api/documents/{uuid.uuid4()}/", {}, format="json")
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    r = client.get("/api/documents/not-a-uuid/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = client.get("/api/no-such-endpoint/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_delete():
    client = APIClient()
    doc = create(client, body="bye")
    assert client.delete(f"/api/documents/{doc['id']}/").status_code == 204
    assert client.get(f"/api/documents/{doc['id']}/").status_code == 404
    assert client.delete(f"/api/documents/{doc['id']}/").status_code == 404
    assert not Document.objects.filter(pk=doc["id"]).exists()


def test_csrf_is_enforced_on_anonymous_writes():
    client = APIClient(enforce_csrf_checks=True)
    r = client.post("/api/documents/", {"title": "x"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"
    token = client.get("/api/session/").json()["csrf"]
    r = client.post("/api/documents/", {"title": "x"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201
    doc = r.json()
    r = client.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "y"}, format="json")
    assert r.status_code == 403
    assert Document.objects.get(pk=doc["id"]).body == ""


def test_writes_are_throttled_reads_are_not(monkeypatch):
    from backend.throttling import WriteThrottle

    monkeypatch.setattr(WriteThrottle, "THROTTLE_RATES", {"writes": "3/min"})
    client = APIClient()
    for _ in range(3):
        create(client)
    r = client.post("/api/documents/", {}, format="json")
    assert r.status_code == 429
    assert r.json()["code"] == "throttled" and "try again" in r.json()["message"]
    assert r.headers["Retry-After"]
    assert client.get("/api/documents/").status_code == 200


def test_writes_go_through_when_the_throttle_cache_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    create(APIClient(), title="saved anyway")
    assert Document.objects.filter(title="saved anyway").exists()
