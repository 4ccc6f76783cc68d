"""Publish a read-only copy at an unguessable link; unpublish takes it down."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def create(client, **data) -> dict:
    return client.post("/api/documents/", data, format="json").json()


def test_publish_view_republish_unpublish():
    writer, reader = APIClient(), APIClient()
    doc = create(writer, title="Ode", body="O wild West Wind")
    url = f"/api/documents/{doc['id']}/publish/"

    r = writer.post(url)
    assert r.status_code == 200
    share_id, share_url = r.json()["share_id"], r.json()["share_url"]
    assert len(share_id) >= 22  # 128 random bits
    assert share_url == f"http://testserver/s/{share_id}"
    got = writer.get(f"/api/documents/{doc['id']}/").json()
    assert got["published"] is True and got["share_id"] == share_id

    shared = reader.get(f"/api/shared/{share_id}/")
    assert shared.status_code == 200
    assert shared.json()["title"] == "Ode" and shared.json()["body"] == "O wild West Wind"
    assert shared.json()["published_at"]
    # Read-only: the share id gives no access to the draft itself.
    assert reader.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "x"}, format="json").status_code == 404
    assert reader.post(f"/api/shared/{share_id}/").status_code == 405

    # Later edits stay private until the writer publishes again, under the same link.
    writer.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "O wild West Wind, thou breath"}, format="json")
    assert reader.get(f"/api/shared/{share_id}/").json()["body"] == "O wild West Wind"
    assert writer.post(url).json()["share_id"] == share_id
    assert reader.get(f"/api/shared/{share_id}/").json()["body"] == "O wild West Wind, thou breath"

    assert writer.delete(url).status_code == 204
    gone = reader.get(f"/api/shared/{share_id}/")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    assert writer.get(f"/api/documents/{doc['id']}/").json()["published"] is False
    # Publishing again makes a new link; the old one stays dead.
    assert writer.post(url).json()["share_id"] != share_id
    assert reader.get(f"/api/shared/{share_id}/").status_code == 404


def test_share_ids_are_distinct_and_unguessable():
    writer = APIClient()
    ids = {writer.post(f"/api/documents/{create(writer)['id']}/publish/").json()["share_id"] for _ in range(5)}
    assert len(ids) == 5
    assert APIClient().get("/api/shared/AAAAAAAAAAAAAAAAAAAAAA/").status_code == 404


def test_deleting_a_published_draft_kills_its_link():
    writer = APIClient()
    doc = create(writer, body="x")
    share_id = writer.post(f"/api/documents/{doc['id']}/publish/").json()["share_id"]
    writer.delete(f"/api/documents/{doc['id']}/")
    assert APIClient().get(f"/api/shared/{share_id}/").status_code == 404
