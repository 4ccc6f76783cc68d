"""Helpers for gallery tests: signed-in readers and published pieces."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient


@pytest.fixture(autouse=True)
def votes_all_count(settings):
    """Every test client votes from 127.0.0.1: lift the per-address cap,
    except where a test puts it back (test_vote_weight.py)."""
    settings.VOTE_MAX_PER_ADDRESS = 10_000


@pytest.fixture
def account(db):
    """account("ada") -> an APIClient signed in as a new user ada, old
    enough for its votes to count (`age_days=0` for a brand new one)."""

    def make(username: str, age_days: float = 30) -> APIClient:
        client = APIClient()
        user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw-for-tests-only")
        user.date_joined = timezone.now() - timedelta(days=age_days)
        user.save(update_fields=["date_joined"])
        client.force_login(user)
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
