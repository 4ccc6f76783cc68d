"""Accepted-suggestion spans saved with the draft: validated, kept, cleared when the text changes under them."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def create(client, **data):
    return client.post("/api/documents/", data, format="json")


def save(client, doc, **data):
    return client.patch(f"/api/documents/{doc['id']}/", data, format="json")


def test_spans_are_saved_with_create_and_autosave():
    client = APIClient()
    spans = [{"start": 4, "end": 9, "model": "smollm2"}]
    doc = create(client, body="The quick fox", spans=spans).json()
    assert doc["spans"] == spans
    saved = save(client, doc, version=1, body="The quick brown fox", spans=[
        {"start": 4, "end": 9, "model": "smollm2"}, {"start": 10, "end": 15, "model": "tiny-gpt2"},
    ]).json()
    assert saved["spans"][1] == {"start": 10, "end": 15, "model": "tiny-gpt2"}
    assert client.get(f"/api/documents/{doc['id']}/").json()["spans"] == saved["spans"]
    # A title-only save leaves them alone.
    assert save(client, saved, version=2, title="Fox").json()["spans"] == saved["spans"]
    # A client that sends a new body without spans cannot keep offsets into the old one.
    assert save(client, saved, version=3, body="Something else entirely").json()["spans"] == []


def test_offsets_count_code_points():
    client = APIClient()
    body = "Poems 🌹 bloom"  # the rose is one code point, two UTF-16 units
    doc = create(client, body=body, spans=[{"start": 8, "end": 13, "model": None}])
    assert doc.status_code == 201, doc.content
    past = create(client, body=body, spans=[{"start": 8, "end": 14, "model": None}])
    assert past.status_code == 400 and "code points" in past.json()["message"]


@pytest.mark.parametrize(
    "spans, says",
    [
        ({"start": 0, "end": 1}, "must be a list"),
        ([[0, 1]], "must be an object"),
        ([{"start": 0}], "needs start and end"),
        ([{"start": "0", "end": 1}], "whole number"),
        ([{"start": True, "end": 2}], "whole number"),
        ([{"start": 1.5, "end": 2}], "whole number"),
        ([{"start": -1, "end": 2}], "cannot be negative"),
        ([{"start": 3, "end": 3}], "must be after start"),
        ([{"start": 0, "end": 4}, {"start": 2, "end": 5}], "inside or before the previous span"),
        ([{"start": 4, "end": 5}, {"start": 0, "end": 2}], "inside or before the previous span"),
        ([{"start": 0, "end": 1, "model": 7}], "model must be a model route"),
        ([{"start": 0, "end": 1, "model": "../etc"}], "model must be a model route"),
        ([{"start": 0, "end": 1, "model": "x" * 65}], "model must be a model route"),
        ([{"start": 0, "end": 1, "colour": "red"}], "unknown field 'colour'"),
        ([{"start": 0, "end": 99}], "past the end of the body"),
        ([{"start": i, "end": i + 1} for i in range(10_001)], "At most 10000 spans"),
    ],
)
def test_bad_spans_are_refused_with_a_sentence(spans, says):
    client = APIClient()
    r = create(client, body="Hello world", spans=spans)
    assert r.status_code == 400
    assert r.json()["code"] == "invalid_request"
    assert says in r.json()["message"] and r.json()["message"].startswith("spans:")
    doc = create(client, body="Hello world").json()
    patched = save(client, doc, version=1, body="Hello world", spans=spans)
    assert patched.status_code == 400 and says in patched.json()["message"]
    # The refused save changed nothing.
    assert client.get(f"/api/documents/{doc['id']}/").json()["version"] == 1


def test_spans_need_the_body_they_point_into():
    client = APIClient()
    doc = create(client, body="Hello world").json()
    r = save(client, doc, version=1, title="t", spans=[{"start": 0, "end": 5, "model": None}])
    assert r.status_code == 400 and "together with the body" in r.json()["message"]


def test_missing_model_means_unknown():
    client = APIClient()
    doc = create(client, body="Hello", spans=[{"start": 0, "end": 5}]).json()
    assert doc["spans"] == [{"start": 0, "end": 5, "model": None}]
