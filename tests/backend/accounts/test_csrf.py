"""Every API write needs the CSRF token, signed in or not.

The endpoints are read from the OpenAPI schema, so a new write endpoint is
covered the day it is added."""
import contextlib
import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"
WRITES = {"post", "put", "patch", "delete"}


def write_operations() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    with contextlib.redirect_stderr(io.StringIO()):
        schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops if method in WRITES)


def test_the_schema_lists_the_account_and_gallery_writes():
    ops = set(write_operations())
    for op in [
        ("POST", "/api/auth/signup/"), ("POST", "/api/auth/signin/"), ("POST", "/api/auth/signout/"),
        ("POST", "/api/auth/password-reset/"), ("POST", "/api/auth/password-reset/confirm/"),
        ("DELETE", "/api/account/"), ("POST", "/api/documents/"), ("PATCH", "/api/documents/{document_id}/"),
        ("DELETE", "/api/documents/{document_id}/"), ("POST", "/api/documents/{document_id}/publish/"),
        ("DELETE", "/api/documents/{document_id}/publish/"), ("POST", "/api/shared/{share_id}/vote/"),
        ("DELETE", "/api/shared/{share_id}/vote/"), ("POST", "/api/shared/{share_id}/flag/"),
    ]:
        assert op in ops


def _fill(path: str, ids: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids["share" if "share" in m.group(1) else "document"], path)


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_every_write_without_the_token_is_refused(signed_in):
    # A piece of someone else's to vote on and flag, and a draft of our own.
    author = APIClient()
    author.force_login(get_user_model().objects.create_user("author", password=PASSWORD))
    doc = author.post("/api/documents/", {"body": "x"}, format="json").json()
    share = author.post(f"/api/documents/{doc['id']}/publish/", {"visibility": "public"}, format="json").json()

    client = APIClient(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(get_user_model().objects.create_user("reader", password=PASSWORD))
    token = client.get("/api/session/").json()["csrf"]
    mine = client.post("/api/documents/", {"body": "mine"}, format="json", HTTP_X_CSRFTOKEN=token).json()
    ids = {"document": mine["id"], "share": share["share_id"]}

    for method, path in write_operations():
        url = _fill(path, ids)
        refused = client.generic(method, url, "{}", content_type="application/json")
        assert refused.status_code == 403, (method, url, refused.content)
        assert refused.json()["code"] == "csrf_failed", (method, url)
        wrong = client.generic(method, url, "{}", content_type="application/json", HTTP_X_CSRFTOKEN="x" * 32)
        assert wrong.status_code == 403 and wrong.json()["code"] == "csrf_failed", (method, url)
    # Nothing was changed by the refused writes.
    assert client.get(f"/api/documents/{mine['id']}/").json()["body"] == "mine"
    assert client.get(f"/api/shared/{share['share_id']}/").json()["score"] == 0


def test_sign_in_with_the_token_works_and_rotates_it():
    get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD)
    client = Client(enforce_csrf_checks=True)
    token = client.get("/api/session/").json()["csrf"]
    body = {"login": "ada", "password": PASSWORD}
    assert client.post("/api/auth/signin/", body, content_type="application/json").status_code == 403
    r = client.post("/api/auth/signin/", body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 200
    # A token from before sign-in is useless afterwards (login CSRF / fixation).
    new = r.json()["csrf"]
    assert new != token
    stale = client.post("/api/documents/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert stale.status_code == 403 and stale.json()["code"] == "csrf_failed"
    fresh = client.post("/api/documents/", {}, content_type="application/json", HTTP_X_CSRFTOKEN=new)
    assert fresh.status_code == 201
