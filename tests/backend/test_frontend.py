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


INDEX = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="description" content="writeup: write with a language model." />
    <title>writeup</title>
  </head>
  <body><div id="root"></div></body>
</html>"""


def _head(response) -> str:
    return response.content.decode().split("</head>")[0]


@pytest.mark.django_db
def test_share_links_get_the_pieces_title_and_preview_tags(dist):
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    (dist / "index.html").write_text(INDEX)
    writer = APIClient()
    writer.force_login(get_user_model().objects.create_user("ada", password="pw-for-tests-only"))
    doc = writer.post("/api/documents/", {"title": 'Ode "to" <Joy> & more', "body": "First line.\nSecond " + "word " * 80},
                      format="json").json()
    share = writer.post(f"/api/documents/{doc['id']}/publish/", {"visibility": "public"}, format="json").json()["share_id"]

    r = Client().get(f"/s/{share}")
    assert r.status_code == 200
    head = _head(r)
    title = "Ode &quot;to&quot; &lt;Joy&gt; &amp; more · writeup"
    assert f"<title>{title}</title>" in head
    assert f'<meta property="og:title" content="{title}" />' in head
    assert f'<meta name="twitter:title" content="{title}" />' in head
    assert '<meta property="og:type" content="article" />' in head
    assert f'<meta property="og:url" content="http://testserver/s/{share}" />' in head
    assert '<meta name="twitter:card" content="summary" />' in head
    assert '<meta property="og:description" content="First line. Second word word' in head
    assert head.count("<title>") == 1 and head.count('name="description"') == 1
    assert "<Joy>" not in head and "noindex" not in head
    assert 'id="root"' in r.content.decode()

    # Link-only pieces preview the same but stay out of search engines.
    writer.post(f"/api/documents/{doc['id']}/publish/", {"visibility": "unlisted"}, format="json")
    assert '<meta name="robots" content="noindex" />' in _head(Client().get(f"/s/{share}"))

    writer.delete(f"/api/documents/{doc['id']}/publish/")
    gone = Client().get(f"/s/{share}")
    assert gone.status_code == 404
    assert "<title>Not published · writeup</title>" in _head(gone) and "Ode" not in gone.content.decode()


@pytest.mark.django_db
def test_every_page_has_its_own_title(dist):
    (dist / "index.html").write_text(INDEX)
    titles = {
        "/": "writeup", "/gallery": "Gallery · writeup", "/signin": "Sign in · writeup",
        "/signup": "Create an account · writeup", "/reset": "Reset your password · writeup",
        "/reset/MQ/abc-123": "Reset your password · writeup", "/account": "Your account · writeup",
        "/d/5f0c1c2e-0000-4000-8000-000000000000": "writeup",
    }
    for path, title in titles.items():
        head = _head(Client().get(path))
        assert f"<title>{title}</title>" in head, path
        assert f'<meta property="og:title" content="{title}" />' in head, path
    assert "noindex" in _head(Client().get("/d/5f0c1c2e-0000-4000-8000-000000000000"))
    assert "noindex" not in _head(Client().get("/gallery"))
