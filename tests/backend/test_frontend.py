"""The built editor is served at /, with client-side routes falling back to index.html."""
import pytest
from django.test import Client


@pytest.fixture
def dist(tmp_path, settings):
    settings.FRONTEND_DIST = tmp_path
    settings.WHITENOISE_ROOT = tmp_path
    settings.WHITENOISE_AUTOREFRESH = True
    return tmp_path


@pytest.mark.django_db
def test_placeholder_until_the_frontend_is_built(dist):
    for path in ("/", "/d/123", "/s/abc"):
        r = Client().get(path)
        # A share link that leads nowhere says so to crawlers too.
        assert r.status_code == (404 if path == "/s/abc" else 200)
        assert b"has not been built yet" in r.content


@pytest.mark.django_db
def test_spa_routes_get_index_and_assets_are_files(dist):
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets").mkdir()
    (dist / "assets" / "app-1234.js").write_text("console.log('editor')")
    client = Client()
    for path in ("/", "/d/5f0c", "/s/share-id", "/gallery", "/signin", "/reset/MQ/abc-123", "/account"):
        r = client.get(path)
        assert r.status_code == (404 if path.startswith("/s/") else 200)
        assert b"id=root" in r.content
        assert r["Cache-Control"] == "no-cache"
    asset = client.get("/assets/app-1234.js")
    assert asset.status_code == 200
    assert b"".join(asset.streaming_content) == b"console.log('editor')"
    assert client.get("/assets/app-old.js").status_code == 404


def test_api_and_socket_paths_never_fall_back(dist):
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    r = Client().get("/api/nothing-here/")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert Client().get("/ws/compose/").status_code == 404


@pytest.mark.django_db
def test_openapi_schema_and_docs():
    client = Client()
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/session/", "/api/models/", "/api/documents/", "/api/documents/{document_id}/",
                 "/api/documents/{document_id}/publish/", "/api/shared/{share_id}/"):
        assert path in paths
    assert "409" in paths["/api/documents/{document_id}/"]["patch"]["responses"]
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_health():
    r = Client().get("/api/health/")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "redis": "ok"}
