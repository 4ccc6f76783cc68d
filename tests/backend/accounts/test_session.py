import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backend.documents.owners import Owner

pytestmark = pytest.mark.django_db


def test_session_gives_csrf_token_and_cookie():
    client = APIClient()
    r = client.get("/api/session/")
    assert r.status_code == 200
    assert r.json()["user"] is None and r.json()["csrf"]
    assert client.cookies["csrftoken"].value


def test_a_bare_get_creates_no_session_row_and_a_post_starts_the_writer():
    from django.contrib.sessions.models import Session

    client = APIClient(enforce_csrf_checks=True)
    for _ in range(5):
        csrf = client.get("/api/session/").json()["csrf"]
    assert Session.objects.count() == 0 and "sessionid" not in client.cookies
    # Starting the writer is a CSRF-checked write.
    assert client.post("/api/session/", format="json").status_code == 403
    r = client.post("/api/session/", format="json", HTTP_X_CSRFTOKEN=csrf)
    assert r.status_code == 200 and r.json()["user"] is None
    assert Session.objects.count() == 1 and client.cookies["sessionid"].value
    # ...and is idempotent: the same writer, no new row.
    client.post("/api/session/", format="json", HTTP_X_CSRFTOKEN=r.json()["csrf"])
    assert Session.objects.count() == 1


def test_sessions_last_about_two_weeks(settings):
    client = APIClient()
    client.post("/api/session/", format="json")
    assert settings.SESSION_COOKIE_AGE == 14 * 24 * 3600
    assert client.cookies["sessionid"]["max-age"] == 14 * 24 * 3600


def test_session_names_the_signed_in_user():
    client = APIClient()
    client.force_login(get_user_model().objects.create_user("ada", password="pw-for-tests-only"))
    assert client.get("/api/session/").json()["user"] == {"username": "ada", "email": ""}


def test_session_key_rotation_keeps_the_anonymous_writer():
    # Django rotates the session key on sign-in; drafts follow the writer token.
    client = APIClient()
    doc = client.post("/api/documents/", {"title": "mine"}, format="json").json()
    from django.contrib.sessions.backends.db import SessionStore

    store = SessionStore(session_key=client.cookies["sessionid"].value)
    store.cycle_key()
    client.cookies["sessionid"] = store.session_key
    assert client.get(f"/api/documents/{doc['id']}/").status_code == 200


def test_owner_is_a_user_or_a_writer():
    Owner(user_id=1)
    Owner(writer="abc")
    with pytest.raises(ValueError):
        Owner()
    with pytest.raises(ValueError):
        Owner(user_id=1, writer="abc")
