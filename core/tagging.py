"""Conversion between character spans and token tag sequences (BIO and BILOU).

Every system that tags tokens goes through this one module, both ways, so a span that
survives ``spans_to_tags`` comes back byte-identical from ``tags_to_spans``.

Overlapping gold spans cannot be expressed in one tag sequence. Policy: identical
duplicates collapse to one; among overlapping spans the longest is kept (ties: the one
that starts first, then the type listed first); the others are dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from core.errors import HarnessError
from core.tokenization import Token
from core.tweets import Span

OUTSIDE = "O"
SCHEMES = ("BIO", "BILOU")


def tag_labels(types: Sequence[str], scheme: str = "BIO") -> list[str]:
    """All tags of a scheme for the given entity types, ``O`` first (index 0)."""
    check_scheme(scheme)
    prefixes = "BI" if scheme == "BIO" else "BILU"
    return [OUTSIDE] + [f"{p}-{t}" for t in types for p in prefixes]


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise HarnessError(f"unknown tag scheme {scheme!r} (choose from {', '.join(SCHEMES)})")


@dataclass
class OverlapResolution:
    """The spans a tag sequence can carry, and what the overlap policy removed."""

    kept: list[Span]
    duplicates: list[Span] = field(default_factory=list)
    overlapping: list[Span] = field(default_factory=list)


def resolve_overlaps(spans: Iterable[Span], types: Sequence[str] = ()) -> OverlapResolution:
    """Apply the overlap policy: drop exact duplicates, keep the longest of overlapping spans."""
    type_rank = {t: i for i, t in enumerate(types)}
    seen: set[Span] = set()
    unique: list[Span] = []
    duplicates: list[Span] = []
    for span in spans:
        if span in seen:
            duplicates.append(span)
        else:
            seen.add(span)
            unique.append(span)
    ranked = sorted(
        unique, key=lambda s: (-len(s), s.begin, type_rank.get(s.type, len(type_rank)), s.type)
    )
    kept: list[Span] = []
    overlapping: list[Span] = []
    for span in ranked:
        if any(span.overlaps(k) for k in kept):
            overlapping.append(span)
        else:
            kept.append(span)
    return OverlapResolution(sorted(kept), duplicates, sorted(overlapping))


def is_aligned(span: Span, tokens: Sequence[Token]) -> bool:
    """True when the span starts at a token start and ends at a token end."""
    return any(t.begin == span.begin for t in tokens) and any(t.end == span.end for t in tokens)


@dataclass
class Tagging:
    """Tags for one tweet plus the spans that needed fixing to be expressed."""

    tags: list[str]
    #: spans whose boundaries fall inside a token; tagged on the tokens they touch
    misaligned: list[Span] = field(default_factory=list)
    #: spans removed by the overlap policy (duplicates and overlaps)
    dropped: list[Span] = field(default_factory=list)


def spans_to_tags(tokens: Sequence[Token], spans: Iterable[Span], scheme: str = "BIO") -> Tagging:
    """Tag tokens with the (overlap-resolved) spans.

    A span whose boundary falls inside a token is widened to the tokens it touches and
    reported in ``misaligned``; whitespace tokens are never the first or last of an entity.
    """
    check_scheme(scheme)
    resolution = resolve_overlaps(spans)
    tags = [OUTSIDE] * len(tokens)
    misaligned: list[Span] = []
    for span in resolution.kept:
        covered = [
            i
            for i, t in enumerate(tokens)
            if t.begin < span.end and span.begin < t.end and not t.is_space
        ]
        if not covered:
            misaligned.append(span)
            continue
        first, last = covered[0], covered[-1]
        if tokens[first].begin != span.begin or tokens[last].end != span.end:
            misaligned.append(span)
        for i in range(first, last + 1):
            tags[i] = _tag_for(i, first, last, span.type, scheme)
    return Tagging(tags, misaligned, resolution.duplicates + resolution.overlapping)


def _tag_for(i: int, first: int, last: int, etype: str, scheme: str) -> str:
    if scheme == "BILOU":
        if first == last:
            return f"U-{etype}"
        if i == first:
            return f"B-{etype}"
        if i == last:
            return f"L-{etype}"
        return f"I-{etype}"
    return f"{'B' if i == first else 'I'}-{etype}"


def split_tag(tag: str) -> tuple[str, str | None]:
    """``'B-PROFESION'`` -> ``('B', 'PROFESION')``; ``'O'`` -> ``('O', None)``."""
    if tag == OUTSIDE:
        return OUTSIDE, None
    prefix, sep, etype = tag.partition("-")
    if not sep or prefix not in "BILU" or len(prefix) != 1 or not etype:
        raise HarnessError(f"malformed tag {tag!r}")
    return prefix, etype


def tags_to_spans(tokens: Sequence[Token], tags: Sequence[str], scheme: str = "BIO") -> list[Span]:
    """Decode a tag sequence into character spans.

    Decoding is lenient as in conlleval, so a model's ill-formed output still yields
    spans: an ``I``/``L`` that does not continue an entity of its type starts one, and
    ``U``/``B`` always start one. Leading and trailing whitespace tokens are trimmed.
    """
    check_scheme(scheme)
    if len(tokens) != len(tags):
        raise HarnessError(f"{len(tags)} tags for {len(tokens)} tokens")
    spans: list[Span] = []
    start: int | None = None
    current: str | None = None

    def close(end_index: int) -> None:
        nonlocal start, current
        if start is not None and current is not None:
            window = [t for t in tokens[start : end_index + 1] if not t.is_space]
            if window:
                spans.append(Span(window[0].begin, window[-1].end, current))
        start, current = None, None

    for i, tag in enumerate(tags):
        prefix, etype = split_tag(tag)
        if prefix == OUTSIDE:
            close(i - 1)
        elif prefix in ("B", "U") or etype != current:
            close(i - 1)
            start, current = i, etype
            if prefix == "U" or (prefix == "L" and scheme == "BILOU"):
                close(i)
        else:  # I or L continuing the current entity
            if prefix == "L":
                close(i)
    close(len(tags) - 1)
    return spans
