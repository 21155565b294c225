"""Score a system's output against a gold standard, for both ProfNER sub-tasks.

Two ways in, one computation: :func:`score` takes tables read from files (see
:mod:`eval.tsv`), :func:`score_predictions` takes the harness's in-memory
:class:`~core.tweets.Prediction` objects and applies the very rules the TSV reader
applies to the rows the submission writer would emit, so both routes give identical
numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.corpus import Split
from core.display import shown
from core.errors import HarnessError
from core.tweets import ALL_PROFNER_TYPES, EVALUATED_TYPES, Prediction
from eval.matching import (
    official_counts,
    official_relaxed_match,
    one_to_one_counts,
    only_type,
    strict_match,
    typed_overlap,
)
from eval.metrics import Metric, classification_metric, ner_metric
from eval.records import EntityTable, GoldStandard, LabelTable, Note, SystemOutput
from eval.report import NerScores, ScoreReport
from eval.tsv import entity_from_columns, type_hint

#: Missing 7a predictions are counted as this label (see :func:`score_7a`).
MISSING_LABEL = 0


def score_7a(gold: LabelTable, pred: LabelTable, tweet_ids: Iterable[str]) -> Metric:
    """Precision, recall and F1 of class 1 over the split's tweets.

    A tweet without a prediction counts as predicted 0: it can only add a false
    negative. (All nine official conformance submissions list every tweet, so the
    official files cannot tell how the scorer treated gaps; counting them as negative is
    the one choice that never rewards leaving tweets out.)
    """
    tp = fp = fn = 0
    for tweet_id in tweet_ids:
        if tweet_id not in gold:
            continue
        truth, guess = gold[tweet_id], pred.get(tweet_id, MISSING_LABEL)
        if guess == 1 and truth == 1:
            tp += 1
        elif guess == 1:
            fp += 1
        elif truth == 1:
            fn += 1
    return classification_metric(tp, fp, fn)


def score_7b(gold: EntityTable, pred: EntityTable, tweet_ids: Sequence[str]) -> NerScores:
    """The official strict and relaxed counts, ``relaxed_typed``, and per-type figures."""
    per_type = {}
    for etype in EVALUATED_TYPES:
        gold_t, pred_t = only_type(gold, etype), only_type(pred, etype)
        per_type[etype] = {
            "strict": ner_metric(*official_counts(gold_t, pred_t, tweet_ids, strict_match)),
            "relaxed_typed": ner_metric(
                *one_to_one_counts(gold_t, pred_t, tweet_ids, typed_overlap)
            ),
        }
    return NerScores(
        strict=ner_metric(*official_counts(gold, pred, tweet_ids, strict_match)),
        relaxed=ner_metric(*official_counts(gold, pred, tweet_ids, official_relaxed_match)),
        relaxed_typed=ner_metric(*one_to_one_counts(gold, pred, tweet_ids, typed_overlap)),
        per_type=per_type,
        gold_entities=sum(len(gold.get(t, ())) for t in tweet_ids),
        predicted_entities=sum(len(pred.get(t, ())) for t in tweet_ids),
    )


def score(gold: GoldStandard, output: SystemOutput) -> ScoreReport:
    """Score every sub-task for which both sides have data.

    A sub-task with predictions but no gold is reported as a warning, not an error, so
    that scoring 7b against a 7b-only gold does not fail because a 7a file came along.
    """
    notes = [*gold.notes, *output.notes]
    report = ScoreReport(warnings=notes)
    if output.labels is not None:
        if gold.labels is None:
            notes.append(Note(output.source, None, "7a predictions not scored: no 7a gold"))
        else:
            missing = [t for t in gold.tweet_ids if t in gold.labels and t not in output.labels]
            if missing:
                notes.append(
                    Note(
                        output.source,
                        None,
                        f"{len(missing)} tweet(s) of the split have no 7a prediction and count "
                        f"as label {MISSING_LABEL} (e.g. {missing[0]})",
                    )
                )
            report.task7a = score_7a(gold.labels, output.labels, gold.tweet_ids)
    if output.entities is not None:
        if gold.entities is None:
            notes.append(Note(output.source, None, "7b predictions not scored: no 7b gold"))
        else:
            report.task7b = score_7b(gold.entities, output.entities, gold.tweet_ids)
            notes += duplicate_notes(gold.entities, output, gold.tweet_ids, report.task7b.strict)
    return report


def duplicate_notes(
    gold: EntityTable, output: SystemOutput, tweet_ids: Sequence[str], strict: Metric
) -> list[Note]:
    """One note when the 7b predictions repeat rows: how many, and the strict F1 the
    predictions are worth without the copies.

    The official scorer counted every copy (one more TP each, for a copy of a correct
    row), so one correct row pasted a million times scored strict F1 1.000. The
    official figure must stay what CodaLab printed; this note keeps it from misleading.
    A duplicate is a row with the same tweet, offsets and type as an earlier one (the
    scorer never read the extraction column).
    """
    pred = output.entities or {}
    unique = {tweet_id: list(dict.fromkeys(rows)) for tweet_id, rows in pred.items()}
    copies = sum(len(rows) for rows in pred.values()) - sum(len(rows) for rows in unique.values())
    if not copies:
        return []
    without = ner_metric(*official_counts(gold, unique, tweet_ids, strict_match))
    return [
        Note(
            output.entities_source or output.source,
            None,
            f"{copies} duplicate 7b row(s) (same tweet, offsets and type as an earlier row) "
            f"counted again, as the official scorer did: strict F1 {strict.f1:.3f}, without "
            f"them {without.f1:.3f} ('harness validate' lists each)",
        )
    ]


def _dropped_gold_notes(split: Split, source: str) -> list[Note]:
    """A note for every gold row dropped for a type the corpus is not known to hold.

    ACTIVIDAD and FIGURATIVA rows are dropped as the task intends; a row typed
    ``PROFESION\\0`` or ``PROFESSION`` is dropped too, by the same rule, but silently it
    would shrink the gold and raise every recall, so each one is said, with its line.
    """
    notes = [
        Note(
            row.where,
            row.line,
            f"gold type {row.span.type!r} is not evaluated{type_hint(row.span.type)}; row "
            "dropped, so the gold count leaves it out",
        )
        for row in split.unknown_type_rows
    ]
    for tweet in split.tweets:  # a split read with every type keeps them until here
        for span in tweet.spans or ():
            if span.type not in ALL_PROFNER_TYPES:
                notes.append(
                    Note(
                        source,
                        None,
                        f"tweet {shown(tweet.id)}: gold type {span.type!r} is not evaluated"
                        f"{type_hint(span.type)}; entity dropped, so the gold count leaves it "
                        "out",
                    )
                )
    return notes


def gold_from_split(split: Split, source: str | None = None) -> GoldStandard:
    """The gold of a corpus split, restricted to the evaluated types like the TSV gold."""
    if not split.has_gold:
        raise HarnessError(f"split '{split.name}' has no gold annotations to score against")
    tweets = split.tweets
    labels = None
    if all(t.label is not None for t in tweets):
        labels = {t.id: int(t.label) for t in tweets if t.label is not None}
    entities = None
    if all(t.spans is not None for t in tweets):
        entities = {}
        for t in tweets:
            kept = (entity_from_columns(str(s.begin), str(s.end), s.type)[0] for s in t.spans or ())
            entities[t.id] = [e for e in kept if e is not None]
    source = source or f"split '{split.name}'"
    return GoldStandard(
        source=source,
        tweet_ids=tuple(t.id for t in tweets),
        labels=labels,
        entities=entities,
        notes=_dropped_gold_notes(split, source) if entities is not None else [],
        texts={t.id: t.text for t in tweets},
    )


def output_from_predictions(
    predictions: Iterable[Prediction], tweet_ids: Iterable[str], source: str = "predictions"
) -> SystemOutput:
    """Tables from in-memory predictions, by the rules applied to the written TSVs.

    Each prediction stands for one 7a row and one 7b row per span (or a ``-`` row), so
    ids and types are stripped, unknown ids and non-0/1 labels are skipped with a
    warning, non-evaluated types dropped with a warning, duplicates kept, and a tweet
    predicted twice keeps its later label: exactly what reading the files would do.
    """
    known = set(tweet_ids)
    labels: LabelTable = {}
    entities: EntityTable = {tweet_id: [] for tweet_id in known}
    notes: list[Note] = []
    for prediction in predictions:
        tweet_id = prediction.tweet_id.strip()
        if tweet_id not in known:
            notes.append(
                Note(source, None, f"tweet {shown(tweet_id)} is not in the split; skipped")
            )
            continue
        label = str(prediction.label)
        if label not in ("0", "1"):
            notes.append(
                Note(
                    source,
                    None,
                    f"tweet {shown(tweet_id)}: label must be 0 or 1, got {label!r}; skipped",
                )
            )
        else:
            if tweet_id in labels:
                notes.append(
                    Note(
                        source,
                        None,
                        f"tweet {shown(tweet_id)} predicted again; the later label is used",
                    )
                )
            labels[tweet_id] = int(label)
        for span in prediction.spans:
            entity, reason = entity_from_columns(str(span.begin), str(span.end), span.type.strip())
            if reason is not None:
                notes.append(Note(source, None, f"tweet {shown(tweet_id)}: {reason}"))
            if entity is not None:
                entities[tweet_id].append(entity)
    return SystemOutput(source=source, labels=labels, entities=entities, notes=notes)


def score_predictions(predictions: Sequence[Prediction], split: Split) -> ScoreReport:
    """Score in-memory predictions against a gold split, as CodaLab would score the
    submission files :func:`submissions.write_submission` makes from them."""
    gold = gold_from_split(split)
    return score(gold, output_from_predictions(predictions, gold.tweet_ids))
