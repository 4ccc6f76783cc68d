"""GET /api/gallery/: public pieces only, newest or top (votes with a time decay), by genre, 20 a page."""
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.documents.models import Document
from backend.gallery import selectors
from backend.gallery.ranking import decayed_score_of
from backend.gallery.selectors import PAGE_SIZE

from .conftest import publish, vote

pytestmark = pytest.mark.django_db


def listed(**params) -> list[str]:
    r = APIClient().get("/api/gallery/", params)
    assert r.status_code == 200, r.content
    return [p["title"] for p in r.json()["results"]]


def age(share_id, hours):
    Document.objects.filter(share_id=share_id).update(listed_at=timezone.now() - timedelta(hours=hours))


def test_only_public_pieces_newest_first(account):
    ada = account("ada")
    publish(ada, "first")
    publish(ada, "link only", visibility="unlisted")
    ada.post("/api/documents/", {"title": "draft"}, format="json")
    publish(ada, "second")
    assert listed() == ["second", "first"]
    card = APIClient().get("/api/gallery/").json()["results"][0]
    assert card["author"] == "ada" and card["url"] == f"/s/{card['share_id']}"
    assert card["excerpt"] == "Some words." and card["visibility"] == "public"
    assert {"score", "votes", "my_vote", "genre", "listed_at", "published_at"} <= set(card)


def test_top_orders_by_votes_at_equal_age(account):
    author = account("author")
    pieces = {name: publish(author, name)["share_id"] for name in ("one vote", "three votes", "none")}
    for name in pieces:
        age(pieces[name], 5)
    readers = [account(f"r{i}") for i in range(3)]
    for reader in readers:
        vote(reader, pieces["three votes"], 1)
    vote(readers[0], pieces["one vote"], 1)
    vote(readers[1], pieces["none"], -1)
    assert listed(sort="top") == ["three votes", "one vote", "none"]


def test_time_decay_lets_a_fresh_piece_pass_an_old_popular_one(account):
    author = account("author")
    old = publish(author, "old, many votes")["share_id"]
    new = publish(author, "new, few votes")["share_id"]
    readers = [account(f"r{i}") for i in range(6)]
    for reader in readers:
        vote(reader, old, 1)
    vote(readers[0], new, 1)
    vote(readers[1], new, 1)

    age(old, 1)
    age(new, 0)
    assert listed(sort="top") == ["old, many votes", "new, few votes"]
    # Same votes, a few days later for the old piece: 6/(50+2)^1.8 < 2/(0+2)^1.8.
    age(old, 48)
    assert decayed_score_of(6, 48) < decayed_score_of(2, 0)
    assert listed(sort="top") == ["new, few votes", "old, many votes"]
    # "new" ignores votes altogether.
    assert listed(sort="new") == ["new, few votes", "old, many votes"]


def test_ranking_matches_the_formula(account):
    author = account("author")
    readers = [account(f"r{i}") for i in range(4)]
    now = timezone.now()
    expected = {}
    for i, (hours, votes) in enumerate([(0.5, 1), (3, 2), (10, 4), (30, 4), (2, -1), (200, 4)]):
        share = publish(author, f"p{i}")["share_id"]
        Document.objects.filter(share_id=share).update(listed_at=now - timedelta(hours=hours))
        for reader in readers[: abs(votes)]:
            vote(reader, share, 1 if votes > 0 else -1)
        expected[f"p{i}"] = decayed_score_of(votes, hours)
    page = selectors.gallery_page(sort="top", now=now)
    assert [p.published_title for p in page] == sorted(expected, key=expected.get, reverse=True)
    for piece in page:
        assert piece.rank == pytest.approx(expected[piece.published_title], rel=1e-6)


def test_pages_of_twenty(account):
    author = account("author")
    for i in range(PAGE_SIZE + 3):
        publish(author, f"piece {i:02d}")
    first = APIClient().get("/api/gallery/").json()
    assert first["count"] == PAGE_SIZE + 3 and first["pages"] == 2 and first["page"] == 1
    assert len(first["results"]) == PAGE_SIZE and first["previous"] is None
    assert first["next"] == "/api/gallery/?sort=new&genre=&page=2"
    second = APIClient().get(first["next"]).json()
    assert [p["title"] for p in second["results"]] == ["piece 02", "piece 01", "piece 00"]
    assert second["next"] is None and second["previous"]
    beyond = APIClient().get("/api/gallery/", {"page": 3})
    assert beyond.status_code == 404 and beyond.json()["code"] == "not_found"


def test_empty_gallery_and_bad_parameters():
    empty = APIClient().get("/api/gallery/").json()
    assert empty["results"] == [] and empty["count"] == 0 and empty["pages"] == 1
    for params in ({"sort": "best"}, {"page": 0}, {"page": "two"}, {"genre": "x" * 65}):
        r = APIClient().get("/api/gallery/", params)
        assert r.status_code == 400 and r.json()["code"] == "invalid_request", params
        assert r.json()["message"]


def test_genre_filter_from_the_model_that_wrote_most(account, settings, tmp_path):
    import yaml

    from backend.catalog.selectors import registry

    data = yaml.safe_load(open(settings.WRITEUP_REGISTRY))
    first = next(iter(data["models"]))
    data["models"]["verse"] = {**data["models"][first], "genre": "poetry", "name": "Verse"}
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    settings.WRITEUP_REGISTRY = path
    assert registry().models["verse"].genre == "poetry"
    base_genre = registry().models[first].genre

    author = account("author")
    body = "roses are red violets are blue"
    publish(author, "poem", body=body, spans=[{"start": 0, "end": 4, "model": first},
                                              {"start": 10, "end": 30, "model": "verse"}])
    publish(author, "prose", body=body, spans=[{"start": 0, "end": 20, "model": first}])
    publish(author, "by hand", body=body)
    publish(author, "gone model", body=body, spans=[{"start": 0, "end": 5, "model": "retired-model"}])
    assert listed(genre="poetry") == ["poem"]
    assert listed(genre=base_genre) == ["prose"]
    assert listed(genre="legal") == []
    gallery = APIClient().get("/api/gallery/").json()
    assert gallery["genres"] == sorted({"poetry", base_genre})
    assert {p["title"]: p["genre"] for p in gallery["results"]}["by hand"] == ""


def test_hidden_pieces_leave_the_gallery_and_their_link_dies(account):
    author = account("author")
    piece = publish(author, "flagged")
    publish(author, "fine")
    Document.objects.filter(share_id=piece["share_id"]).update(hidden=True)
    assert listed() == ["fine"]
    assert APIClient().get(f"/api/shared/{piece['share_id']}/").status_code == 404
    # The owner still has the draft and is told why.
    assert author.get(f"/api/documents/{piece['document']}/").json()["hidden"] is True
