"""The words the simulated writers' drafts are made of.

Each writer gets its own endless stream of words: its draft is the first N,
and what it types next is the words that follow. Two sources:

- generated: seeded English sentences from small word lists and sentence
  shapes, so every writer's text (and every paragraph of it) differs. One
  repeated passage would make the prefix cache look better than it is, and
  identical drafts across writers would share cache entries no real writers
  share.
- a corpus file (`--corpus FILE`, plain text, e.g. the `var/corpora/<genre>/train.txt`
  that `python -m genres` builds): real prose, each writer starting at its own
  seeded place.

No network and no package data are needed for the generated text, so the load
test runs the same on an offline machine.
"""
from __future__ import annotations

import random
import re
from pathlib import Path

MAX_CORPUS_BYTES = 64 * 1024 * 1024
MIN_CORPUS_WORDS = 1000
PARAGRAPH = "\n\n"

NAMES = ("Ada", "Tom", "Mara", "Jonas", "Elena", "Felix", "Harriet", "Ivo", "Lena", "Marcus", "Nora", "Oskar",
         "Priya", "Ruth", "Samuel", "Tessa", "Viktor", "Wren", "the keeper", "the captain", "her brother",
         "the old doctor", "my aunt", "the stranger", "the girl from the mill", "our neighbour")
NOUNS = ("letter", "lamp", "river", "window", "ledger", "garden", "bridge", "harbour", "train", "bell", "map",
         "kitchen", "orchard", "staircase", "lantern", "coat", "boat", "fence", "road", "station", "piano",
         "photograph", "key", "well", "field", "chapel", "market", "bottle", "candle", "wagon", "notebook",
         "door", "mirror", "clock", "basket", "rope", "tower", "cellar", "hill", "shore")
ADJECTIVES = ("old", "narrow", "quiet", "grey", "broken", "bright", "cold", "crooked", "empty", "heavy",
              "patient", "small", "distant", "wet", "faded", "familiar", "strange", "warm", "wooden", "long",
              "careful", "tired", "sudden", "silver", "green", "muddy", "borrowed", "half-open", "salt-stained")
VERBS = ("opened", "closed", "found", "carried", "lost", "watched", "mended", "painted", "crossed", "followed",
         "counted", "burned", "hid", "remembered", "sold", "cleaned", "locked", "dropped", "weighed", "studied",
         "folded", "climbed", "answered", "measured", "ignored", "repaired", "described", "buried")
MOTIONS = ("walked", "ran", "drove", "wandered", "hurried", "rowed", "rode", "climbed", "limped", "strolled")
SAYINGS = ("said", "whispered", "asked", "muttered", "called", "admitted", "insisted", "replied")
ADVERBS = ("slowly", "quietly", "at once", "without a word", "for the last time", "again", "carefully",
           "in the dark", "before dawn", "after supper", "in a hurry", "twice", "reluctantly", "at last")
PLACES = ("the harbour", "the station", "the edge of the village", "the top of the hill", "the mill",
          "the churchyard", "the inn", "the ferry", "the lighthouse", "the market square", "the farm",
          "the river bank", "the school", "the post office", "the bakery", "the end of the pier")
TIMES = ("In the morning", "That winter", "By noon", "Later that evening", "On the third day", "Before the rain",
         "When the bells stopped", "All through the summer", "Long after midnight", "The next week",
         "Some years ago", "At first light")
FEELINGS = ("afraid", "glad", "certain", "ashamed", "curious", "tired", "angry", "relieved", "restless", "sure")
THOUGHTS = ("nobody would come", "the letter was a lie", "the road was longer than it looked",
            "the river would flood again", "the money was gone", "someone had been in the house",
            "the war was over", "the clock had stopped at four", "it would snow", "they had been seen")
QUOTES = ("We should go back", "Leave it where it is", "Nobody lives here now", "It is later than you think",
          "I have seen this before", "Wait for the tide", "Tell me what you found", "Not tonight",
          "You kept the key", "Nothing has changed")


def _pick(rng: random.Random, words: tuple[str, ...]) -> str:
    return words[rng.randrange(len(words))]


def _thing(rng: random.Random) -> str:
    article = "the" if rng.random() < 0.7 else "a"
    noun = _pick(rng, NOUNS)
    if rng.random() < 0.5:
        noun = f"{_pick(rng, ADJECTIVES)} {noun}"
    if article == "a" and noun[0] in "aeiou":
        article = "an"
    return f"{article} {noun}"


def _cap(text: str) -> str:
    return text[0].upper() + text[1:]


# Sentence shapes. Each {slot} is a fresh pick, filled left to right; {who}
# and {other} are the sentence's two people, picked once; {Thing} is a
# capitalised {thing}.
SHAPES = (
    "{who} {verb} {thing} {adverb}.",
    "{time}, {who} {motion} to {place} with {thing}.",
    "{who} was {feeling} that {thought}, and {adverb} {verb} {thing}.",
    "\"{quote},\" {saying} {who}.",
    "There was {thing} near {place}, and {other} had {verb} it {adverb}.",
    "Nobody knew why {who} {verb} {thing}, but {other} thought {thought}.",
    "{Thing} lay by {thing}, {adjective} and {adjective}.",
    "When {who} {motion} past {place}, {other} {verb} {thing}.",
    "{who} {saying} that {thought}.",
)
WORDS = {"verb": VERBS, "adverb": ADVERBS, "time": TIMES, "motion": MOTIONS, "place": PLACES,
         "feeling": FEELINGS, "thought": THOUGHTS, "quote": QUOTES, "saying": SAYINGS, "adjective": ADJECTIVES}
SLOT = re.compile(r"\{(\w+)\}")


def sentence(rng: random.Random) -> str:
    """One English sentence in one of several shapes."""
    shape = SHAPES[rng.randrange(len(SHAPES))]
    people = {"who": _pick(rng, NAMES), "other": _pick(rng, NAMES)}

    def fill(slot: re.Match) -> str:
        name = slot[1]
        if name in people:
            return people[name]
        if name == "thing":
            return _thing(rng)
        if name == "Thing":
            return _cap(_thing(rng))
        return _pick(rng, WORDS[name])

    return _cap(SLOT.sub(fill, shape))


class Prose:
    """An endless, seeded stream of words for one writer. A word that ends a
    paragraph carries the paragraph break (see `join`)."""

    def __init__(self, rng: random.Random, corpus: list[str] | None = None):
        self.rng = rng
        self.corpus = corpus
        self.buffer: list[str] = []
        if corpus:
            # Start after a sentence end, so the draft opens like a text does.
            at = rng.randrange(len(corpus))
            for _ in range(200):
                if corpus[at - 1].rstrip().endswith((".", "!", "?")):
                    break
                at = (at + 1) % len(corpus)
            self.at = at

    def words(self, count: int) -> list[str]:
        while len(self.buffer) < count:
            self.buffer += self._paragraph()
        out, self.buffer = self.buffer[:count], self.buffer[count:]
        return out

    def _paragraph(self) -> list[str]:
        if self.corpus:
            chunk = [self.corpus[(self.at + i) % len(self.corpus)] for i in range(256)]
            self.at = (self.at + 256) % len(self.corpus)
            return chunk
        words = " ".join(sentence(self.rng) for _ in range(self.rng.randint(3, 8))).split(" ")
        words[-1] += PARAGRAPH
        return words


def join(text: str, words: list[str]) -> str:
    """Append words to a draft with single spaces, none after a paragraph break."""
    for word in words:
        if text and not text.endswith("\n"):
            text += " "
        text += word
    return text


def load_corpus(path: str | Path) -> list[str]:
    """A plain-text file as words, its paragraph breaks kept on the word before."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_CORPUS_BYTES)
    except OSError as e:
        raise ValueError(f"--corpus: cannot read {path}: {e.strerror or e}") from None
    text = raw.decode("utf-8", errors="replace")
    words = []
    for para in text.replace("\r\n", "\n").split("\n\n"):
        tokens = para.split()
        if tokens:
            tokens[-1] += PARAGRAPH
            words += tokens
    if len(words) < MIN_CORPUS_WORDS:
        raise ValueError(f"--corpus: {path} has {len(words)} words; a corpus needs at least {MIN_CORPUS_WORDS}")
    return words
