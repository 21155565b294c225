"""Small builders for the tests: splits in memory, TSV files, small RNN sizes."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from core.corpus import Split
from core.tweets import Prediction, Span, Tweet
from tests.corpus_factory import SHARED_DATA

CONFORMANCE = SHARED_DATA / "conformance"
REFERENCE_PREDICTIONS = SHARED_DATA / "reference-predictions" / "recognai-valid"
HEADER_7A = "tweet_id\tlabel"
HEADER_7B = "tweet_id\tbegin\tend\ttype\textraction"

#: RNN sizes small enough that every test trains or predicts in seconds on two CPU cores.
SMALL_RNN = {
    "word_dim": 12,
    "char_dim": 6,
    "char_hidden": 5,
    "encoder_hidden": 16,
    "pooler_hidden": 7,
    "feedforward": 9,
    "min_count": 1,
}

#: A tiny split with the cases the tests need: emoji (astral code points), a newline
#: inside the text, overlapping entity types, and a tweet without entities.
TINY_TEXTS = {
    "100": "Los 👩‍⚕️ médicos y enfermeras trabajan",
    "200": "Sin trabajo\ndesde marzo 🏭 parado",
    "300": "Nada que ver aquí",
}
TINY_GOLD = {
    "100": [(9, 16, "PROFESION"), (19, 29, "PROFESION")],
    "200": [(0, 11, "SITUACION_LABORAL"), (26, 32, "SITUACION_LABORAL")],
    "300": [],
}


def make_split(
    texts: dict[str, str],
    gold: dict[str, list[tuple[int, int, str]]] | None,
    labels: dict[str, int] | None = None,
    name: str = "valid",
) -> Split:
    """A :class:`Split` built in memory; 7a gold defaults to "has an entity"."""
    tweets = []
    for tweet_id, text in texts.items():
        spans = None
        label = None
        if gold is not None:
            spans = tuple(Span(b, e, t) for b, e, t in gold.get(tweet_id, []))
            label = (labels or {}).get(tweet_id, 1 if spans else 0)
        tweets.append(Tweet(tweet_id, text, label, spans))
    return Split(name, tweets, has_gold=gold is not None)


def tiny_split() -> Split:
    return make_split(TINY_TEXTS, TINY_GOLD)


def predict(
    tweet_id: str, spans: Iterable[tuple[int, int, str]], label: int | None = None
) -> Prediction:
    return Prediction.from_spans(tweet_id, [Span(b, e, t) for b, e, t in spans], label)


def write_lines(path: Path, lines: Iterable[str], newline: str = "\n") -> Path:
    """Write lines joined by ``newline`` with a final one, as bytes (no translation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + newline).encode("utf-8"))
    return path


def descend(model, batch, optimizer, steps: int) -> list[float]:
    """``steps`` plain optimiser steps on one batch; the loss before each step."""
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = model(batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
