"""Tweets as word-level training examples: tokens, tag ids and the 7a label."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from tqdm import tqdm

from core.tagging import spans_to_tags, tag_labels, tags_to_spans
from core.tokenization import Token, tokenize
from core.tweets import Prediction, Span, Tweet


@dataclass
class Example:
    """One tweet ready for a tagger; ``tags``/``label`` are ``None`` without gold."""

    tweet: Tweet
    tokens: list[Token]
    tags: list[int] | None = None
    label: int | None = None
    #: gazetteer flag id per token, when the system uses a gazetteer
    features: list[int] | None = None


class TagCodec:
    """Maps between tag strings, tag ids and spans for one label set and scheme."""

    def __init__(self, types: Sequence[str], scheme: str):
        self.types = tuple(types)
        self.scheme = scheme
        self.labels = tag_labels(self.types, scheme)
        self.index = {label: i for i, label in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, tokens: Sequence[Token], spans: Sequence[Span]) -> list[int]:
        wanted = [s for s in spans if s.type in self.types]
        return [self.index[t] for t in spans_to_tags(tokens, wanted, self.scheme).tags]

    def decode(self, tokens: Sequence[Token], tag_ids: Sequence[int]) -> list[Span]:
        return tags_to_spans(tokens, [self.labels[i] for i in tag_ids], self.scheme)


def make_examples(tweets: Sequence[Tweet], codec: TagCodec, with_gold: bool) -> list[Example]:
    """Tokenise tweets; with gold, add tag ids and the 7a label."""
    examples = []
    for tweet in tweets:
        tokens = tokenize(tweet.text)
        if with_gold:
            tags = codec.encode(tokens, tweet.spans or ())
            label = tweet.label if tweet.label is not None else int(any(t != 0 for t in tags))
            examples.append(Example(tweet, tokens, tags, label))
        else:
            examples.append(Example(tweet, tokens))
    return examples


def length_batches(examples: Sequence[Example], batch_size: int) -> list[list[int]]:
    """Index batches of similar length (fewer pad tokens), in length order."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].tokens))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


#: a batch of examples -> (7a labels, word tag ids) per example
DecodeBatch = Callable[[Sequence[Example]], tuple[Sequence[int], Sequence[Sequence[int]]]]


def predict_examples(
    examples: Sequence[Example],
    codec: TagCodec,
    decode: DecodeBatch,
    *,
    batch_size: int,
    own_labels: bool,
    desc: str,
    show_progress: bool = False,
) -> list[Prediction]:
    """Predictions in the examples' order, decoded in length-sorted batches (fewer pad
    pieces) under ``torch.inference_mode``; ``own_labels``: keep ``decode``'s 7a labels,
    else 7a follows the spans."""
    results: list[Prediction | None] = [None] * len(examples)
    with torch.inference_mode():
        for indices in tqdm(
            length_batches(examples, batch_size),
            desc=desc,
            unit="batch",
            disable=not show_progress,
            leave=False,
        ):
            chunk = [examples[i] for i in indices]
            labels, tag_ids = decode(chunk)
            for i, example, label, tags in zip(indices, chunk, labels, tag_ids, strict=True):
                spans = codec.decode(example.tokens, tags[: len(example.tokens)])
                results[i] = Prediction.from_spans(
                    example.tweet.id, spans, int(label) if own_labels else None
                )
    return [r for r in results if r is not None]
