"""Publishing a draft as a piece: unlisted or public, unpublishing, whose it is, moderation."""
import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from backend.documents.models import Document
from backend.gallery.models import Flag

from .conftest import publish

pytestmark = pytest.mark.django_db


def gallery_ids():
    return [p["share_id"] for p in APIClient().get("/api/gallery/").json()["results"]]


def test_visibility_unlisted_by_default_public_on_request(account):
    ada = account("ada")
    doc = ada.post("/api/documents/", {"title": "t", "body": "b"}, format="json").json()
    url = f"/api/documents/{doc['id']}/publish/"
    first = ada.post(url, format="json").json()
    assert first["visibility"] == "unlisted"
    assert gallery_ids() == []
    # Update without a visibility keeps it; with one, changes it under the same link.
    assert ada.post(url, {}, format="json").json() == first
    public = ada.post(url, {"visibility": "public"}, format="json").json()
    assert public["share_id"] == first["share_id"] and public["visibility"] == "public"
    assert gallery_ids() == [public["share_id"]]
    listed_at = Document.objects.get(pk=doc["id"]).listed_at
    assert ada.post(url, {}, format="json").json()["visibility"] == "public"
    assert ada.get(f"/api/documents/{doc['id']}/").json()["visibility"] == "public"
    # Re-publishing does not make the piece new again.
    assert Document.objects.get(pk=doc["id"]).listed_at == listed_at
    ada.post(url, {"visibility": "unlisted"}, format="json")
    assert gallery_ids() == []
    assert APIClient().get(f"/api/shared/{first['share_id']}/").json()["visibility"] == "unlisted"
    bad = ada.post(url, {"visibility": "private"}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_request"


def test_anonymous_writers_publish_links_but_not_to_the_gallery():
    anon = APIClient()
    doc = anon.post("/api/documents/", {"body": "b"}, format="json").json()
    url = f"/api/documents/{doc['id']}/publish/"
    r = anon.post(url, {"visibility": "public"}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "sign_in_required"
    assert anon.get(f"/api/documents/{doc['id']}/").json()["published"] is False
    assert anon.post(url, format="json").json()["visibility"] == "unlisted"


def test_unpublishing_removes_the_piece_from_gallery_and_link_at_once(account):
    ada = account("ada")
    piece = publish(ada, "going away")
    share = piece["share_id"]
    assert gallery_ids() == [share]
    assert APIClient().get(f"/api/shared/{share}/").status_code == 200
    assert ada.delete(f"/api/documents/{piece['document']}/publish/").status_code == 204
    assert gallery_ids() == []
    for path in (f"/api/shared/{share}/", f"/api/shared/{share}/export.md", f"/api/shared/{share}/export.txt"):
        r = APIClient().get(path)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    page = Client().get(f"/s/{share}")
    assert page.status_code == 404
    draft = ada.get(f"/api/documents/{piece['document']}/").json()
    assert draft["visibility"] == "private" and draft["share_id"] is None and draft["title"] == "going away"


def test_another_user_cannot_touch_someones_piece(account):
    ada, bea = account("ada"), account("bea")
    piece = publish(ada, "ada's", body="ada's words")
    doc_url = f"/api/documents/{piece['document']}/"
    for r in (
        bea.get(doc_url),
        bea.patch(doc_url, {"version": 1, "body": "bea was here"}, format="json"),
        bea.post(f"{doc_url}publish/", {"visibility": "unlisted"}, format="json"),
        bea.delete(f"{doc_url}publish/"),
        bea.delete(doc_url),
        bea.get(f"/api/documents/{piece['document']}/export.md"),
    ):
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    stored = Document.objects.get(pk=piece["document"])
    assert stored.body == "ada's words" and stored.visibility == "public" and stored.share_id == piece["share_id"]
    assert gallery_ids() == [piece["share_id"]]
    # The piece itself is readable by anyone, and only readable.
    shared = bea.get(f"/api/shared/{piece['share_id']}/")
    assert shared.status_code == 200 and shared.json()["body"] == "ada's words"
    for method in ("post", "put", "patch", "delete"):
        assert getattr(bea, method)(f"/api/shared/{piece['share_id']}/", {}, format="json").status_code == 405


def test_the_piece_keeps_the_spans_it_was_published_with(account):
    ada = account("ada")
    spans = [{"start": 0, "end": 5, "model": "tiny-gpt2"}, {"start": 6, "end": 11, "model": None}]
    piece = publish(ada, "marked", body="Hello world", spans=spans)
    assert APIClient().get(f"/api/shared/{piece['share_id']}/").json()["spans"] == spans
    # Later edits stay private until published again.
    ada.patch(f"/api/documents/{piece['document']}/", {"version": 1, "body": "Hello there world", "spans": []},
              format="json")
    shared = APIClient().get(f"/api/shared/{piece['share_id']}/").json()
    assert shared["body"] == "Hello world" and shared["spans"] == spans


def test_staff_hide_flagged_pieces_in_the_admin(account):
    ada, bea = account("ada"), account("bea")
    bad = publish(ada, "spam")
    good = publish(ada, "poem")
    bea.post(f"/api/shared/{bad['share_id']}/flag/", {"reason": "spam"}, format="json")
    staff = get_user_model().objects.create_superuser("mod", "mod@example.com", "pw-for-tests-only")
    admin = Client()
    admin.force_login(staff)
    queue = admin.get("/admin/gallery/piece/?flagged=yes")
    assert queue.status_code == 200
    assert b"spam" in queue.content and b"poem" not in queue.content
    piece_id = Document.objects.get(share_id=bad["share_id"]).pk
    r = admin.post("/admin/gallery/piece/", {"action": "hide", "_selected_action": [str(piece_id)]})
    assert r.status_code == 302
    assert gallery_ids() == [good["share_id"]]
    assert APIClient().get(f"/api/shared/{bad['share_id']}/").status_code == 404
    # The writer cannot publish their way out of it.
    ada.post(f"/api/documents/{bad['document']}/publish/", {"visibility": "public"}, format="json")
    assert gallery_ids() == [good["share_id"]]
    assert Flag.objects.count() == 1
    admin.post("/admin/gallery/piece/", {"action": "unhide", "_selected_action": [str(piece_id)]})
    assert set(gallery_ids()) == {good["share_id"], bad["share_id"]}


def test_admin_pages_render(account):
    ada = account("ada")
    piece = publish(ada, "p")
    account("bea").post(f"/api/shared/{piece['share_id']}/flag/", {}, format="json")
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("mod", "mod@example.com", "pw-for-tests-only"))
    doc = Document.objects.get(share_id=piece["share_id"])
    for url in ("/admin/gallery/piece/", f"/admin/gallery/piece/{doc.pk}/change/", "/admin/gallery/flag/",
                "/admin/gallery/vote/", "/admin/documents/document/"):
        assert admin.get(url).status_code == 200, url
