"""Hardening of the backend as a whole (issue 14): socket origins as scheme +
host + port, absolute URLs from the site URL, the CSP, local API docs,
republishing, votes that are stored but not scored."""
import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.backend.conftest import communicator

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("origin, host, allowed", [
    (b"http://localhost", None, True),  # listed (tests/backend/conftest.py)
    (b"http://localhost:9999", None, False),  # a foreign port of an allowed host
    (b"https://localhost", None, False),  # another scheme
    (b"http://127.0.0.1:8000", b"127.0.0.1:8000", True),  # the socket's own origin
    (b"http://127.0.0.1:9999", b"127.0.0.1:8000", False),
    (b"https://127.0.0.1:8000", b"127.0.0.1:8000", False),
    (b"http://evil.example:8000", b"evil.example:8000", False),  # DNS rebinding: not an allowed host
    (b"null", None, False),
])
async def test_socket_origins_are_compared_as_scheme_host_and_port(origin, host, allowed):
    comm = communicator(origin=origin)
    if host is not None:
        comm.scope["headers"].append((b"host", host))
    connected, code = await comm.connect(timeout=10)
    assert connected is allowed, (origin, host, code)
    await comm.disconnect()


def test_absolute_urls_come_from_the_site_url_not_the_request(settings):
    settings.SITE_URL = "https://writeup.example"
    settings.ALLOWED_HOSTS = ["*"]
    writer = APIClient()
    doc = writer.post("/api/documents/", {"title": "Ode", "body": "words"}, format="json").json()
    r = writer.post(f"/api/documents/{doc['id']}/publish/", HTTP_HOST="evil.example:666", HTTP_X_FORWARDED_PROTO="http")
    share = r.json()["share_id"]
    assert r.json()["share_url"] == f"https://writeup.example/s/{share}"
    page = Client().get(f"/s/{share}", HTTP_HOST="evil.example:666").content.decode()
    assert f'content="https://writeup.example/s/{share}"' in page and "evil.example" not in page


def test_every_page_has_a_strict_content_security_policy():
    for path in ("/", "/api/session/", "/api/docs/", "/admin/login/"):
        policy = Client().get(path)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy


def test_api_docs_load_their_assets_from_this_site():
    page = Client().get("/api/docs/").content.decode()
    assert "cdn" not in page.lower() and "swagger-ui" in page
    assert "<script>" not in page  # no inline script: the start-up script is a file of its own
    assert Client().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


def test_republishing_changed_text_clears_the_votes(settings):
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    users = get_user_model().objects
    writer, reader = APIClient(), APIClient()
    writer.force_login(users.create_user("ada", "ada@example.com", "pw-for-tests-only"))
    voter = users.create_user("bea", "bea@example.com", "pw-for-tests-only", date_joined=timezone.now() - timedelta(days=9))
    reader.force_login(voter)
    doc = writer.post("/api/documents/", {"title": "Ode", "body": "kind words"}, format="json").json()
    url = f"/api/documents/{doc['id']}/publish/"
    share = writer.post(url, {"visibility": "public"}, format="json").json()["share_id"]
    assert reader.post(f"/api/shared/{share}/vote/", {"value": 1}, format="json").json()["score"] == 1
    # Publishing the same text again keeps the votes...
    writer.post(url, format="json")
    assert reader.get(f"/api/shared/{share}/").json()["score"] == 1
    # ...new text does not inherit them, on the same link.
    writer.patch(f"/api/documents/{doc['id']}/", {"version": doc["version"], "body": "other words"}, format="json")
    assert writer.post(url, format="json").json()["share_id"] == share
    assert reader.get(f"/api/shared/{share}/").json()["score"] == 0
