"""Counting TP/FP/FN for task 7b under three matching rules.

``strict`` and ``relaxed`` reproduce the official scorer, including its quirks: a gold
entity scores one TP for *every* prediction matching it, a prediction matching any gold
is not an FP, and the relaxed rule's second clause ignores the type.

``relaxed_typed`` is ours, for people who want an overlap metric that means what it
says. Per tweet and per type, gold and predicted entities form a bipartite graph with
an edge when their characters overlap (``p.begin < g.end and g.begin < p.end``, end
exclusive, same type); TP is the size of a *maximum* matching of that graph, so each
gold yields at most one TP and each prediction is used at most once; FN = gold - TP and
FP = predictions - TP. Duplicated rows are separate nodes: a duplicate prediction of a
single gold is one TP and one FP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from eval.records import Entity, EntityTable

MatchRule = Callable[[Entity, Entity], bool]


def strict_match(pred: Entity, gold: Entity) -> bool:
    """Same type, same begin, same end."""
    return pred.type == gold.type and pred.begin == gold.begin and pred.end == gold.end


def official_relaxed_match(pred: Entity, gold: Entity) -> bool:
    """The official relaxed rule, operator-precedence slip included.

    ``a and b or c`` parses as ``(a and b) or c``: a prediction that starts before the
    gold and reaches at least its first character matches whatever its type. Both
    bounds are inclusive, so spans that merely touch (``end == begin``) match too.
    """
    return (pred.type == gold.type and gold.begin <= pred.begin <= gold.end) or (
        pred.begin <= gold.begin <= pred.end
    )


def typed_overlap(pred: Entity, gold: Entity) -> bool:
    """Same type and at least one shared character (end-exclusive offsets)."""
    return pred.type == gold.type and pred.begin < gold.end and gold.begin < pred.end


def official_counts(
    gold: EntityTable, pred: EntityTable, tweet_ids: Iterable[str], match: MatchRule
) -> tuple[int, int, int]:
    """TP/FP/FN exactly as the official scorer counts them under ``match``.

    Every (gold, prediction) pair that matches adds one TP; a gold with no match adds one
    FN; a prediction with no match adds one FP.
    """
    tp = fp = fn = 0
    for tweet_id in tweet_ids:
        golds = gold.get(tweet_id, ())
        preds = pred.get(tweet_id, ())
        for g in golds:
            hits = sum(1 for p in preds if match(p, g))
            tp += hits
            fn += hits == 0
        fp += sum(1 for p in preds if not any(match(p, g) for g in golds))
    return tp, fp, fn


def maximum_matching(golds: Sequence[Entity], preds: Sequence[Entity], match: MatchRule) -> int:
    """Size of a maximum one-to-one matching between golds and predictions.

    Kuhn's augmenting-path algorithm: the graphs are a handful of spans per tweet, so
    this stays trivial in cost and keeps the scorer free of numeric dependencies. It is
    deterministic, and a maximum matching's size does not depend on visiting order.
    """
    owner: dict[int, int] = {}  # prediction index -> gold index it is matched to

    def augment(g: int, visited: set[int]) -> bool:
        for p, candidate in enumerate(preds):
            if p in visited or not match(candidate, golds[g]):
                continue
            visited.add(p)
            if p not in owner or augment(owner[p], visited):
                owner[p] = g
                return True
        return False

    return sum(augment(g, set()) for g in range(len(golds)))


def one_to_one_counts(
    gold: EntityTable, pred: EntityTable, tweet_ids: Iterable[str], match: MatchRule
) -> tuple[int, int, int]:
    """TP/FP/FN where each gold and each prediction can take part in one TP at most."""
    tp = fp = fn = 0
    for tweet_id in tweet_ids:
        golds = gold.get(tweet_id, [])
        preds = pred.get(tweet_id, [])
        matched = maximum_matching(golds, preds, match)
        tp += matched
        fn += len(golds) - matched
        fp += len(preds) - matched
    return tp, fp, fn


def only_type(table: EntityTable, etype: str) -> EntityTable:
    """The same table restricted to one entity type (for the per-type breakdown)."""
    return {tweet_id: [e for e in ents if e.type == etype] for tweet_id, ents in table.items()}
