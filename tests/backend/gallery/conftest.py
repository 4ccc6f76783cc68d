"""Helpers for gallery tests: signed-in readers and published pieces."""
from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient


@pytest.fixture
def account(db):
    """account("ada") -> an APIClient signed in as a new user ada."""

    def make(username: str) -> APIClient:
        client = APIClient()
        client.force_login(get_user_model().objects.create_user(username, f"{username}@example.com", "pw-for-tests-only"))
        return client

    return make


def publish(client, title="A piece", body="Some words.", visibility="public", spans=None) -> dict:
    data = {"title": title, "body": body}
    if spans is not None:
        data["spans"] = spans
    doc = client.post("/api/documents/", data, format="json")
    assert doc.status_code == 201, doc.content
    r = client.post(f"/api/documents/{doc.json()['id']}/publish/", {"visibility": visibility}, format="json")
    assert r.status_code == 200, r.content
    return {"document": doc.json()["id"], **r.json()}


def vote(client, share_id, value):
    return client.post(f"/api/shared/{share_id}/vote/", {"value": value}, format="json")
