"""Sock puppets: votes from brand-new accounts, or past the per-address cap
on one piece, are stored (the voter sees their vote) but not scored."""
import pytest

from backend.gallery.models import Vote
from tests.backend.gallery.conftest import publish, vote

pytestmark = pytest.mark.django_db


def test_votes_of_young_accounts_are_stored_but_not_scored(account, settings):
    settings.VOTE_MIN_ACCOUNT_AGE_HOURS = 24
    share = publish(account("writer"))["share_id"]
    fresh = account("fresh", age_days=0)
    r = vote(fresh, share, 1)
    assert r.status_code == 200 and r.json()["my_vote"] == 1 and r.json()["score"] == 0
    assert Vote.objects.get().counted is False
    assert vote(account("old", age_days=2), share, 1).json()["score"] == 1


def test_votes_past_the_per_address_cap_do_not_score(account, settings):
    settings.VOTE_MAX_PER_ADDRESS = 2
    share = publish(account("writer"))["share_id"]
    scores = [vote(account(f"v{i}"), share, 1, ).json()["score"] for i in range(4)]
    assert scores == [1, 2, 2, 2]
    # Forged X-Forwarded-For does not make them other addresses.
    spoofed = account("v9").post(f"/api/shared/{share}/vote/", {"value": 1}, format="json",
                                 HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert spoofed.json()["score"] == 2
    assert Vote.objects.count() == 5 and Vote.objects.filter(counted=True).count() == 2
    # The address is kept only as a keyed hash.
    assert "127.0.0.1" not in {v.address for v in Vote.objects.all()}
