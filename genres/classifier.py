"""A small genre classifier: does a piece of text read like Shakespeare, verse, Austen, the KJV or a license?

Character n-gram TF-IDF with logistic regression (scikit-learn), trained on
short chunks of each genre's training split and scored on chunks of the works
held out by source (`heldout.txt`), which neither the classifier nor the
adapters ever saw. Chunks are about as long as a generated continuation
(~40 tokens), so the accuracy on real text says how far the same classifier can
be trusted on generated text.

Character n-grams with case and line breaks kept, because those carry much of
a genre here: "LORD", "KING.", a verse's short lines, "Licensee".
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

CHUNK_CHARS = 200  # about a 40-token continuation
TRAIN_CHUNKS = 2000  # per genre
TEST_CHUNKS = 300  # per genre


def chunks(text: str, size: int = CHUNK_CHARS, limit: int | None = None, seed: int = 0) -> list[str]:
    """Pieces of about `size` characters cut at whitespace; a seeded sample of `limit` of them, in text order."""
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
            end = cut if cut > start + size // 2 else end
        piece = text[start:end].strip()
        if len(piece) >= size // 4:  # a few stray words are no sample of a genre
            out.append(piece)
        start = end
    if limit is not None and len(out) > limit:
        keep = sorted(random.Random(seed).sample(range(len(out)), limit))
        out = [out[i] for i in keep]
    return out


@dataclass
class GenreClassifier:
    genres: list[str]
    pipeline: object  # sklearn Pipeline

    def predict(self, texts: list[str]) -> list[str]:
        return [str(g) for g in self.pipeline.predict(texts)] if texts else []

    def accuracy(self, texts_by_genre: dict[str, list[str]]) -> dict:
        """Overall and per-genre accuracy, and the confusion counts {true: {predicted: n}}."""
        per, confusion, right, total = {}, {}, 0, 0
        for genre, texts in texts_by_genre.items():
            if not texts:
                continue
            predicted = self.predict(texts)
            hits = sum(p == genre for p in predicted)
            per[genre] = hits / len(texts)
            confusion[genre] = {g: predicted.count(g) for g in self.genres}
            right, total = right + hits, total + len(texts)
        return {"accuracy": right / total if total else float("nan"), "per_genre": per, "confusion": confusion, "n": total}


def train(texts_by_genre: dict[str, list[str]], seed: int = 0) -> GenreClassifier:
    """Fit TF-IDF over character 2-5-grams + multinomial logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    genres = sorted(g for g, t in texts_by_genre.items() if t)
    if len(genres) < 2:
        raise ValueError(f"a classifier needs text of at least two genres; got {genres}")
    x = [t for g in genres for t in texts_by_genre[g]]
    y = [g for g in genres for _ in texts_by_genre[g]]
    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char", ngram_range=(2, 5), lowercase=False, sublinear_tf=True, min_df=2,
                        max_features=300_000, dtype=__import__("numpy").float32),
        LogisticRegression(C=10.0, max_iter=2000, random_state=seed),
    )
    pipeline.fit(x, y)
    return GenreClassifier(genres, pipeline)


def corpus_chunks(corpus_dirs: dict[str, Path], split: str, limit: int, seed: int = 0) -> dict[str, list[str]]:
    """Chunks of `split` (train, valid, heldout) of each genre's corpus; a genre without that file gets none."""
    out = {}
    for genre, folder in corpus_dirs.items():
        path = Path(folder) / f"{split}.txt"
        out[genre] = chunks(path.read_text(encoding="utf-8"), limit=limit, seed=seed) if path.exists() else []
    return out


def from_corpora(corpus_dirs: dict[str, Path], per_genre: int = TRAIN_CHUNKS, seed: int = 0) -> GenreClassifier:
    return train(corpus_chunks(corpus_dirs, "train", per_genre, seed), seed)
