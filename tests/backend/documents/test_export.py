"""Downloads of a draft or a piece as Markdown and plain text."""
import pytest
from rest_framework.test import APIClient

from backend.documents.export import filename, to_markdown, to_text

BODY = "It was a dark night.\nThe wind rose.\n\n# not a heading\n1986. A year."
SPANS = [{"start": 9, "end": 19, "model": "smollm2"}, {"start": 25, "end": 29, "model": None}]


def test_markdown_paragraphs_and_escapes():
    md = to_markdown("Storm <b>", BODY)
    assert md == (
        "# Storm \\<b>\n\nIt was a dark night.\n\nThe wind rose.\n\n\\# not a heading\n\n1986\\. A year.\n"
    )


def test_markdown_marks_the_models_words():
    md = to_markdown("Storm", BODY, SPANS)
    assert 'It was a <mark data-model="smollm2">dark night</mark>.' in md
    assert "The <mark>wind</mark> rose." in md


@pytest.mark.parametrize("line, escaped", [
    ("- not a list", "\\- not a list"), ("> not a quote", "\\> not a quote"), ("  * star", "  \\* star"),
    ("```", "\\```"), ("===", "\\==="), ("2) two", "2\\) two"), ("plain", "plain"), ("a <i>b</i>", "a \\<i>b\\</i>"),
    ("4 < 5", "4 < 5"),
])
def test_block_syntax_at_line_start_is_escaped(line, escaped):
    assert to_markdown("", line) == escaped + "\n"


def test_text_is_the_body_as_written():
    assert to_text("Storm", BODY) == "Storm\n\n" + BODY + "\n"
    assert to_text("  ", "just words") == "just words\n"


def test_file_names():
    assert filename("Ode to Joy!", "md") == "ode-to-joy.md"
    assert filename("", "txt") == "untitled.txt"
    assert filename("../../etc/passwd", "txt") == "etc-passwd.txt"
    assert filename("Été à Paris", "md") == "été-à-paris.md"


@pytest.mark.django_db
def test_draft_downloads_for_the_owner_only():
    owner, other = APIClient(), APIClient()
    doc = owner.post("/api/documents/", {"title": "Storm", "body": BODY, "spans": SPANS}, format="json").json()
    md = owner.get(f"/api/documents/{doc['id']}/export.md")
    assert md.status_code == 200
    assert md["Content-Type"] == "text/markdown; charset=utf-8"
    assert md["Content-Disposition"] == 'attachment; filename="storm.md"'
    assert md["Cache-Control"] == "private, no-store"
    assert md.content.decode() == to_markdown("Storm", BODY)
    marked = owner.get(f"/api/documents/{doc['id']}/export.md", {"highlight": "1"}).content.decode()
    assert "<mark" in marked
    txt = owner.get(f"/api/documents/{doc['id']}/export.txt", HTTP_ACCEPT="text/plain")
    assert txt["Content-Type"] == "text/plain; charset=utf-8" and txt.content.decode() == to_text("Storm", BODY)
    assert 'filename="storm.txt"' in txt["Content-Disposition"]
    for r in (other.get(f"/api/documents/{doc['id']}/export.md"), owner.get("/api/documents/not-a-uuid/export.md")):
        assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert owner.get(f"/api/documents/{doc['id']}/export.pdf").status_code == 404


@pytest.mark.django_db
def test_piece_downloads_are_the_published_copy():
    owner = APIClient()
    doc = owner.post("/api/documents/", {"title": "Été", "body": "Published words."}, format="json").json()
    share = owner.post(f"/api/documents/{doc['id']}/publish/", format="json").json()["share_id"]
    owner.patch(f"/api/documents/{doc['id']}/", {"version": 1, "body": "Later, private words."}, format="json")
    md = APIClient().get(f"/api/shared/{share}/export.md", HTTP_ACCEPT="text/markdown")
    assert md.status_code == 200 and md.content.decode() == "# Été\n\nPublished words.\n"
    assert md["Content-Disposition"] == "attachment; filename*=utf-8''%C3%A9t%C3%A9.md"
    assert APIClient().get(f"/api/shared/{share}/export.txt").content.decode() == "Été\n\nPublished words.\n"
    assert APIClient().get("/api/shared/nope/export.txt").status_code == 404
