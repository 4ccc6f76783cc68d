"""The drafts' text: seeded, varied, and joined as a writer types it."""
import random

import pytest

from loadtest import prose


def words(seed, n, corpus=None):
    return prose.Prose(random.Random(seed), corpus).words(n)


def test_generated_text_is_seeded_and_differs_between_writers():
    assert words("1:0", 500) == words("1:0", 500)
    assert words("1:0", 500) != words("1:1", 500)


def test_a_long_draft_does_not_repeat_itself():
    text = prose.join("", words("1:0", 3000))
    sentences = [s for s in text.replace("\n", " ").split(". ") if s]
    # A repeated passage would make every writer's prefix look cacheable; most sentences must be distinct.
    assert len(set(sentences)) > 0.9 * len(sentences) and len(sentences) > 150
    assert "\n\n" in text  # paragraphs, as drafts have


def test_stream_continues_where_the_draft_ended():
    p = prose.Prose(random.Random(5))
    first, then = p.words(100), p.words(20)
    assert first + then == words(5, 120)


def test_join_puts_one_space_between_words_and_none_after_a_paragraph():
    assert prose.join("", ["One", "two.\n\n", "Three"]) == "One two.\n\nThree"
    assert prose.join("Draft", ["goes", "on"]) == "Draft goes on"


def test_corpus_file_is_read_from_a_seeded_place_after_a_sentence(tmp_path):
    path = tmp_path / "novel.txt"
    sentences = [f"Sentence number {i} ends here." for i in range(400)]
    path.write_text("\n\n".join(" ".join(sentences[i:i + 5]) for i in range(0, 400, 5)))
    corpus = prose.load_corpus(path)
    a, b = words(1, 50, corpus), words(2, 50, corpus)
    assert a == words(1, 50, corpus) and a != b
    assert a[0] == "Sentence"  # starts at a sentence, not mid-way
    assert " ".join(w.strip() for w in a) in " ".join(w.strip() for w in corpus + corpus)


def test_corpus_too_small_or_missing(tmp_path):
    (tmp_path / "tiny.txt").write_text("just a few words")
    with pytest.raises(ValueError, match="at least"):
        prose.load_corpus(tmp_path / "tiny.txt")
    with pytest.raises(ValueError, match="cannot read"):
        prose.load_corpus(tmp_path / "missing.txt")
