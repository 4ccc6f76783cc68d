"""Deleting an account deletes everything it owns, and only that."""
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backend.documents.models import Document
from backend.gallery.models import Flag, Vote

pytestmark = pytest.mark.django_db
User = get_user_model()
PASSWORD = "correct horse battery staple"


def account(username) -> APIClient:
    client = APIClient()
    r = client.post(
        "/api/auth/signup/", {"username": username, "email": f"{username}@example.com", "password": PASSWORD},
        format="json",
    )
    assert r.status_code == 201, r.content
    return client


def publish(client, title, visibility="public") -> str:
    doc = client.post("/api/documents/", {"title": title, "body": f"{title}."}, format="json").json()
    return client.post(f"/api/documents/{doc['id']}/publish/", {"visibility": visibility}, format="json").json()["share_id"]


def test_deletion_removes_drafts_pieces_votes_and_flags():
    ada, bea = account("ada"), account("bea")
    ada.post("/api/documents/", {"title": "private draft"}, format="json")
    ada_piece = publish(ada, "ada's poem")
    ada_link = publish(ada, "ada's unlisted", "unlisted")
    bea_piece = publish(bea, "bea's poem")
    ada.post(f"/api/shared/{bea_piece}/vote/", {"value": 1}, format="json")
    ada.post(f"/api/shared/{bea_piece}/flag/", {"reason": "test"}, format="json")
    bea.post(f"/api/shared/{ada_piece}/vote/", {"value": 1}, format="json")
    bea.post(f"/api/shared/{ada_piece}/flag/", {}, format="json")
    assert ada.get("/api/account/").json()["drafts"] == 3

    wrong = ada.delete("/api/account/", {"password": "nope"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["code"] == "wrong_password"
    assert User.objects.filter(username="ada").exists()

    assert ada.delete("/api/account/", {"password": PASSWORD}, format="json").status_code == 204
    assert not User.objects.filter(username="ada").exists()
    assert ada.get("/api/session/").json()["user"] is None
    assert not Document.objects.filter(title__startswith="ada").exclude(title="private draft").exists()
    assert not Document.objects.filter(title="private draft").exists()
    assert not Vote.objects.filter(user__username="ada").exists() and not Flag.objects.filter(user__username="ada").exists()
    # Votes and flags on ada's pieces went with them; bea's own things stay.
    assert Vote.objects.count() == 0 and Flag.objects.count() == 0
    anyone = APIClient()
    assert anyone.get(f"/api/shared/{ada_piece}/").status_code == 404
    assert anyone.get(f"/api/shared/{ada_link}/").status_code == 404
    gallery = [p["share_id"] for p in anyone.get("/api/gallery/").json()["results"]]
    assert gallery == [bea_piece]
    assert [d["title"] for d in bea.get("/api/documents/").json()] == ["bea's poem"]
    # The name is free again.
    assert account("ada")


def test_deletion_needs_a_signed_in_user_and_the_password_field():
    anon = APIClient()
    r = anon.delete("/api/account/", {"password": PASSWORD}, format="json")
    assert r.status_code == 403 and r.json()["code"] == "not_signed_in"
    ada = account("ada")
    r = ada.delete("/api/account/", format="json")
    assert r.status_code == 400 and r.json()["code"] == "invalid_request" and "password" in r.json()["errors"]
    assert User.objects.filter(username="ada").exists()
