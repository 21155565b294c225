"""Figures about a corpus that a participant checks before training: sizes, positives,
entities per type, overlaps, duplicates, and whether every entity survives the
brat -> tags -> brat round trip under the harness's tokenizer (compared with spaCy's
default one).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import Any

from core.corpus import Corpus, Split
from core.tagging import is_aligned, resolve_overlaps, spans_to_tags, tags_to_spans
from core.tokenization import build_default_tokenizer, tokenize


@dataclass
class Alignment:
    """How many entities convert spans -> tags -> spans back to themselves."""

    #: gold rows of the evaluated types
    entities: int = 0
    #: entities a tag sequence can carry: unique, after the overlap policy
    kept: int = 0
    #: kept entities that come back from brat -> tags -> brat exactly
    round_trip_identical: int = 0
    #: entity boundaries inside a token of the harness tokenizer
    misaligned: int = 0
    #: the same with spaCy's unmodified Spanish tokenizer, for comparison
    misaligned_default_spacy: int = 0
    #: identical duplicate rows collapsed into one before tagging
    duplicates_collapsed: int = 0
    #: shorter spans overlapping a longer one, removed by the overlap policy
    overlapping_dropped: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class SplitStats:
    tweets: int
    has_gold: bool
    positives: int | None = None
    entities: dict[str, int] = field(default_factory=dict)
    overlapping_pairs: int = 0
    duplicate_entities: int = 0
    dropped_types: dict[str, int] = field(default_factory=dict)
    alignment: Alignment | None = None


def split_stats(split: Split, scheme: str = "BIO", examples: int = 5) -> SplitStats:
    stats = SplitStats(tweets=len(split), has_gold=split.has_gold)
    if not split.has_gold:
        return stats
    stats.positives = sum(1 for t in split.tweets if t.label == 1)
    per_type: Counter[str] = Counter()
    alignment = Alignment()
    default_tokenizer = build_default_tokenizer()
    for tweet in split.tweets:
        spans = list(tweet.spans or ())
        per_type.update(s.type for s in spans)
        unique = sorted(set(spans))
        stats.duplicate_entities += len(spans) - len(unique)
        stats.overlapping_pairs += sum(1 for a, b in combinations(unique, 2) if a.overlaps(b))
        if not spans:
            continue
        tokens = tokenize(tweet.text)
        tagging = spans_to_tags(tokens, spans, scheme)
        back = set(tags_to_spans(tokens, tagging.tags, scheme))
        resolution = resolve_overlaps(spans)
        kept = resolution.kept
        alignment.entities += len(spans)
        alignment.kept += len(kept)
        alignment.duplicates_collapsed += len(resolution.duplicates)
        alignment.overlapping_dropped += len(resolution.overlapping)
        alignment.misaligned += len(tagging.misaligned)
        alignment.round_trip_identical += sum(1 for s in kept if s in back)
        for span in kept:
            if span not in back and len(alignment.examples) < examples:
                alignment.examples.append(f"{tweet.id}: {tweet.mention(span)!r} ({span.type})")
        default_tokens = tokenize(tweet.text, default_tokenizer)
        alignment.misaligned_default_spacy += sum(
            1 for s in spans if not is_aligned(s, default_tokens)
        )
    stats.entities = dict(per_type)
    stats.dropped_types = dict(split.dropped_types)
    stats.alignment = alignment
    return stats


def corpus_stats(corpus: Corpus, scheme: str = "BIO") -> dict[str, Any]:
    """Stats of every split as plain JSON-ready data."""
    return {
        "source": corpus.source,
        "types": list(corpus.types),
        "scheme": scheme,
        "splits": {name: asdict(split_stats(s, scheme)) for name, s in corpus.splits.items()},
    }
