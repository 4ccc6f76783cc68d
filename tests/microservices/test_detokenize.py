"""Streaming text is UTF-8 safe and stop strings never leak, for both tokenizers."""
import pytest

from microservices.engine.detokenize import TextStream
from microservices.engine.loader import load_tokenizer

TEXT = "Café naïve — 日本語のテキスト 😀👍🏽 and ﬁnally “quotes”, Ünïcödé!"


@pytest.fixture(params=["tiny-gpt2", "tiny-llama"])
def tok(request, tiny_dir):
    return load_tokenizer(tiny_dir / request.param)


def test_pieces_are_whole_characters_and_round_trip(tok):
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    assert len(ids) > len(TEXT.split())  # multi-byte characters span several tokens
    s = TextStream(tok)
    pieces = [s.push(i) for i in ids]
    pieces.append(s.flush())
    assert "".join(pieces) == TEXT
    assert not any("\ufffd" in p for p in pieces)


def test_stop_string_is_cut_and_never_sent(tok):
    ids = tok(TEXT, add_special_tokens=False)["input_ids"]
    s = TextStream(tok, stop=("テキスト",))
    sent = ""
    for i in ids:
        sent += s.push(i)
        if s.stopped:
            break
    assert s.stopped and sent == TEXT[:TEXT.index("テキスト")]


def test_held_back_prefix_is_released_when_it_does_not_complete(tok):
    ids = tok("an apple and an orange", add_special_tokens=False)["input_ids"]
    s = TextStream(tok, stop=("an owl",))
    out = "".join(s.push(i) for i in ids) + s.flush()
    assert out == "an apple and an orange" and not s.stopped
