"""Task 7b errors sorted by kind, the way people read a tagger's mistakes.

Every predicted entity that is not a strict match (same type, begin and end as a gold
entity of its tweet) and every gold entity no prediction matches strictly falls in
exactly one kind:

* ``spurious``: a prediction that overlaps no gold entity;
* ``wrong type``: a prediction with the span of a gold entity and another type, or one
  overlapping only gold entities of other types;
* ``too short`` / ``too long``: a prediction of the right type overlapping a gold entity
  with other boundaries, shorter or longer than it (same length, shifted: too long);
* ``missed``: a gold entity that no prediction overlaps at all (a gold entity some wrong
  prediction overlaps is that prediction's error, not counted twice).

Overlap is character overlap (``begin < other.end and other.begin < end``). Pure data in,
pure data out, like the rest of :mod:`eval`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from eval.records import Entity, EntityTable

SPURIOUS, WRONG_TYPE, TOO_SHORT, TOO_LONG, MISSED = (
    "spurious",
    "wrong type",
    "too short",
    "too long",
    "missed",
)
#: the kinds in the order reports list them
KINDS = (SPURIOUS, MISSED, TOO_SHORT, TOO_LONG, WRONG_TYPE)


@dataclass(frozen=True)
class SpanError:
    """One error: its kind, the tweet, the entity at fault and the gold it concerns."""

    kind: str
    tweet_id: str
    #: the prediction (``None`` for a missed gold entity)
    predicted: Entity | None
    #: the gold entity it overlaps most (``None`` for a spurious prediction)
    gold: Entity | None

    @property
    def type(self) -> str:
        """The entity type the error is counted under: the gold's, else the prediction's."""
        entity = self.gold or self.predicted
        assert entity is not None
        return entity.type


def _overlap(a: Entity, b: Entity) -> int:
    return max(0, min(a.end, b.end) - max(a.begin, b.begin))


def tweet_errors(tweet_id: str, gold: list[Entity], predicted: list[Entity]) -> list[SpanError]:
    """The errors of one tweet (see the module docstring)."""
    exact = set(gold) & set(predicted)
    errors = []
    touched: set[Entity] = set()
    for entity in predicted:
        if entity in exact:
            continue
        overlapping = [g for g in gold if _overlap(entity, g) > 0]
        touched.update(overlapping)
        if not overlapping:
            errors.append(SpanError(SPURIOUS, tweet_id, entity, None))
            continue
        same_type = [g for g in overlapping if g.type == entity.type]
        if not same_type:
            target = max(overlapping, key=lambda g: _overlap(entity, g))
            errors.append(SpanError(WRONG_TYPE, tweet_id, entity, target))
            continue
        target = max(same_type, key=lambda g: _overlap(entity, g))
        shorter = entity.end - entity.begin < target.end - target.begin
        errors.append(SpanError(TOO_SHORT if shorter else TOO_LONG, tweet_id, entity, target))
    for entity in gold:
        if entity not in exact and entity not in touched:
            errors.append(SpanError(MISSED, tweet_id, None, entity))
    return errors


def span_errors(gold: EntityTable, predicted: EntityTable) -> list[SpanError]:
    """Every error of every tweet of the gold table, tweet by tweet in its order."""
    errors = []
    for tweet_id, gold_entities in gold.items():
        errors += tweet_errors(tweet_id, gold_entities, predicted.get(tweet_id, []))
    return errors


def error_counts(errors: Iterable[SpanError]) -> dict[str, Counter[str]]:
    """Counts per entity type, then per kind."""
    counts: dict[str, Counter[str]] = {}
    for error in errors:
        counts.setdefault(error.type, Counter())[error.kind] += 1
    return counts


@dataclass(frozen=True)
class Comparison:
    """What a second run fixes and breaks against a first, error by error."""

    fixed: list[SpanError]
    broken: list[SpanError]


def compare(first: Iterable[SpanError], second: Iterable[SpanError]) -> Comparison:
    """Errors of ``first`` that ``second`` no longer makes, and new ones it makes."""
    before, after = list(first), list(second)
    before_set, after_set = set(before), set(after)
    return Comparison(
        fixed=[e for e in before if e not in after_set],
        broken=[e for e in after if e not in before_set],
    )


def marked_text(text: str, gold: Iterable[Entity], predicted: Iterable[Entity]) -> str:
    """The tweet with gold spans in ``[...]`` and predicted ones in ``{...}``."""
    marks: list[tuple[int, int, str]] = []
    for entity in gold:
        marks += [(entity.begin, 1, "["), (entity.end, 0, "]")]
    for entity in predicted:
        marks += [(entity.begin, 2, "{"), (entity.end, -1, "}")]
    out, position = [], 0
    for offset, _, mark in sorted(marks):
        offset = min(max(offset, 0), len(text))
        out += [text[position:offset], mark]
        position = max(position, offset)
    out.append(text[position:])
    return "".join(out)
