"""Draft lengths: presets, word counts from a file, seeded draws."""
import random

import pytest

from loadtest.__main__ import UsageError, draft_distributions, parse_args
from loadtest.drafts import MAX_DRAFT_WORDS, DraftError, from_file, from_lines, preset


def test_presets_draw_within_their_range_and_cover_it():
    rng = random.Random(3)
    long = [preset("long").draw(rng) for _ in range(2000)]
    assert min(long) >= 1000 and max(long) <= 3000
    assert min(long) < 1100 and max(long) > 2900  # uniform over the range, not a point
    short = [preset("short").draw(rng) for _ in range(500)]
    assert min(short) >= 40 and max(short) <= 120
    with pytest.raises(DraftError, match="unknown preset"):
        preset("medium")


def test_draws_are_seeded():
    draws = [[preset("long").draw(random.Random(seed)) for seed in range(20)] for _ in range(2)]
    assert draws[0] == draws[1] and len(set(draws[0])) > 10


def test_word_counts_file_draws_only_its_counts(tmp_path):
    path = tmp_path / "drafts.txt"
    path.write_text("# word counts of our drafts\n1200\n\n  800  # a short one\n5000\n")
    lengths = from_file(path)
    assert lengths.counts == (1200, 800, 5000) and (lengths.low, lengths.high) == (800, 5000)
    rng = random.Random(1)
    seen = {lengths.draw(rng) for _ in range(200)}
    assert seen == {800, 1200, 5000}
    assert "3 drafts, 800-5000 words" in lengths.describe()


@pytest.mark.parametrize("lines, message", [
    (["100", "many"], "line 2: expected a whole number"),
    (["0"], "line 1: 0 words is outside"),
    ([str(MAX_DRAFT_WORDS + 1)], "is outside 1 to"),
    (["-5"], "outside"),
    (["# nothing", ""], "no word counts"),
])
def test_bad_word_counts_name_the_line(lines, message):
    with pytest.raises(DraftError, match=message):
        from_lines(lines, "drafts.txt")


def test_unreadable_file_is_a_usage_error(tmp_path):
    with pytest.raises(DraftError, match="cannot read"):
        from_file(tmp_path / "missing.txt")
    (tmp_path / "binary").write_bytes(b"\xff\xfe12\n")
    with pytest.raises(DraftError, match="not UTF-8"):
        from_file(tmp_path / "binary")


def test_which_distributions_a_run_uses(tmp_path):
    url = ["--url", "http://127.0.0.1:8000"]
    assert [d.name for d in draft_distributions(parse_args(url))] == ["long"]
    assert [d.name for d in draft_distributions(parse_args(url + ["--drafts", "short"]))] == ["short"]
    assert [d.name for d in draft_distributions(parse_args(url + ["--capacity"]))] == ["short", "long"]
    assert [d.name for d in draft_distributions(parse_args(url + ["--capacity", "--drafts", "long"]))] == ["long"]
    (tmp_path / "w.txt").write_text("1500\n")
    assert [d.counts for d in draft_distributions(parse_args(url + ["--draft-words", str(tmp_path / "w.txt")]))] == [(1500,)]
    with pytest.raises(UsageError, match="cannot read"):
        draft_distributions(parse_args(url + ["--draft-words", str(tmp_path / "none.txt")]))
    with pytest.raises(SystemExit):  # one or the other
        parse_args(url + ["--drafts", "short", "--draft-words", str(tmp_path / "w.txt")])
