"""Votes: one per reader and piece, changed or taken back; the score is summed from the votes table."""
import pytest
from rest_framework.test import APIClient

from backend.gallery.models import Vote

from .conftest import publish, vote

pytestmark = pytest.mark.django_db


def score(share_id, client=None):
    return (client or APIClient()).get(f"/api/shared/{share_id}/").json()["score"]


def test_voting_twice_counts_once_and_a_second_vote_changes_or_removes_it(account):
    author, reader = account("author"), account("reader")
    piece = publish(author)["share_id"]

    first = vote(reader, piece, 1)
    assert first.status_code == 200
    assert first.json() == {"score": 1, "votes": {"up": 1, "down": 0}, "my_vote": 1}
    assert vote(reader, piece, 1).json() == first.json()  # idempotent
    assert Vote.objects.count() == 1

    changed = vote(reader, piece, -1).json()
    assert changed == {"score": -1, "votes": {"up": 0, "down": 1}, "my_vote": -1}
    assert Vote.objects.count() == 1

    removed = vote(reader, piece, 0).json()
    assert removed == {"score": 0, "votes": {"up": 0, "down": 0}, "my_vote": None}
    assert vote(reader, piece, 0).json() == removed
    vote(reader, piece, 1)
    assert reader.delete(f"/api/shared/{piece}/vote/").json()["my_vote"] is None
    assert Vote.objects.count() == 0


def test_score_is_derived_from_the_votes_table(account):
    author = account("author")
    piece = publish(author)["share_id"]
    readers = [account(f"reader{i}") for i in range(5)]
    for i, reader in enumerate(readers):
        vote(reader, piece, 1 if i < 4 else -1)
    assert score(piece) == 3
    seen = readers[0].get(f"/api/shared/{piece}/").json()
    assert seen["votes"] == {"up": 4, "down": 1} and seen["my_vote"] == 1
    assert APIClient().get(f"/api/shared/{piece}/").json()["my_vote"] is None
    # Whatever changes the table changes the score: nothing is cached beside it.
    Vote.objects.filter(user__username="reader0").delete()
    assert score(piece) == 2
    gallery = APIClient().get("/api/gallery/").json()["results"]
    assert gallery[0]["score"] == 2 and gallery[0]["votes"] == {"up": 3, "down": 1}


def test_who_may_vote_on_what(account):
    author, reader = account("author"), account("reader")
    public = publish(author)["share_id"]
    unlisted = publish(author, visibility="unlisted")["share_id"]

    anon = vote(APIClient(), public, 1)
    assert anon.status_code == 403 and anon.json()["code"] == "not_signed_in"
    own = vote(author, public, 1)
    assert own.status_code == 403 and own.json()["code"] == "own_piece"
    link_only = vote(reader, unlisted, 1)
    assert link_only.status_code == 409 and link_only.json()["code"] == "not_in_gallery"
    missing = vote(reader, "no-such-piece", 1)
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    for bad in (2, "up", None, True, 0.5):
        r = vote(reader, public, bad)
        assert r.status_code == 400 and r.json()["code"] == "invalid_request", bad
    assert Vote.objects.count() == 0


def test_unpublished_pieces_take_no_votes_and_keep_none_visible(account):
    author, reader = account("author"), account("reader")
    piece = publish(author)
    vote(reader, piece["share_id"], 1)
    author.delete(f"/api/documents/{piece['document']}/publish/")
    assert vote(reader, piece["share_id"], -1).status_code == 404
    # Published again: a new link, the same piece, its votes still its own.
    again = author.post(f"/api/documents/{piece['document']}/publish/", {"visibility": "public"}, format="json").json()
    assert again["share_id"] != piece["share_id"]
    assert score(again["share_id"]) == 1


def test_flags_one_per_reader_and_need_an_account(account):
    from backend.gallery.models import Flag

    author, reader = account("author"), account("reader")
    piece = publish(author, visibility="unlisted")["share_id"]
    anon = APIClient().post(f"/api/shared/{piece}/flag/", {}, format="json")
    assert anon.status_code == 403 and anon.json()["code"] == "not_signed_in"
    assert reader.post(f"/api/shared/{piece}/flag/", {"reason": "spam"}, format="json").json() == {"flagged": True}
    reader.post(f"/api/shared/{piece}/flag/", {"reason": "spam, really"}, format="json")
    assert list(Flag.objects.values_list("reason", flat=True)) == ["spam, really"]
    too_long = reader.post(f"/api/shared/{piece}/flag/", {"reason": "x" * 501}, format="json")
    assert too_long.status_code == 400 and too_long.json()["code"] == "invalid_request"
    assert reader.post("/api/shared/nothing/flag/", {}, format="json").status_code == 404
