"""Read a submission (folder, zip, single TSV or brat files) into scorer tables."""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from core.display import shown
from core.errors import HarnessError
from eval.records import EntityTable, LabelTable, Note, SystemOutput
from eval.tsv import TASK_7A, TASK_7B, parse_7a, parse_7b
from submissions.brat import entities_from_ann
from submissions.sources import TaskFiles, collect_task_files


def read_system_output(
    path: str | os.PathLike[str],
    tweet_ids: Collection[str],
    texts: Mapping[str, str] | None = None,
) -> SystemOutput:
    """The predictions under ``path``, read as the official scorer reads them.

    A 7b TSV wins over brat ``.ann`` files when both are present (the run folder the
    harness writes holds both, with the same content). Unusable files, two different
    TSVs for one task, or no submission at all raise :class:`HarnessError`. Given the
    tweets' ``texts`` (``GoldStandard.texts``), 7b spans outside them are reported in a
    note per file; they are counted all the same, as the official scorer counted them.
    """
    files = collect_task_files(path)
    files.raise_errors()
    return system_output_from_files(files, tweet_ids, texts)


def system_output_from_files(
    files: TaskFiles, tweet_ids: Collection[str], texts: Mapping[str, str] | None = None
) -> SystemOutput:
    """Scorer tables from already collected files (see :func:`read_system_output`)."""
    notes: list[Note] = list(files.notes)
    labels: LabelTable | None = None
    entities: EntityTable | None = None
    entities_source: str | None = None
    task7a = files.single(TASK_7A)
    if task7a is not None:
        labels, found = parse_7a(task7a.text, task7a.where, tweet_ids)
        notes += found
    task7b = files.single(TASK_7B)
    if task7b is not None:
        entities, found = parse_7b(task7b.text, task7b.where, tweet_ids, texts)
        entities_source = task7b.where
        notes += found
        if files.ann and not _ann_agrees(files, entities, tweet_ids):
            notes.append(
                Note(
                    files.source,
                    None,
                    f"{len(files.ann)} brat .ann file(s) differ from the 7b TSV; "
                    "the TSV was scored",
                )
            )
    elif files.ann:
        _refuse_duplicate_ann(files)
        entities, found = entities_from_ann(
            ((f.stem, f.where, f.text) for f in files.ann), tweet_ids, texts
        )
        notes += found
    if labels is None and entities is None:
        # the warnings are never printed when this stops the command: say the first here
        more = len(files.notes) - 1
        ignored = (
            f"; ignored: {files.notes[0]}{f' (and {more} more)' if more else ''}"
            if files.notes
            else ""
        )
        raise HarnessError(
            f"{files.source}: no submission found (a 7a or 7b TSV starting with its header, "
            f"or brat .ann files named by tweet id){ignored}"
        )
    return SystemOutput(
        source=files.source,
        labels=labels,
        entities=entities,
        notes=notes,
        entities_source=entities_source,
    )


def _ann_agrees(files: TaskFiles, entities: EntityTable, tweet_ids: Collection[str]) -> bool:
    """True when the brat files beside a 7b TSV hold the same entities (as the harness
    writes them), so ignoring them loses nothing and needs no warning."""
    try:
        _refuse_duplicate_ann(files)
        from_ann, _ = entities_from_ann(((f.stem, f.where, f.text) for f in files.ann), tweet_ids)
    except HarnessError:
        return False
    return all(
        sorted(from_ann.get(tweet_id, [])) == sorted(entities.get(tweet_id, []))
        for tweet_id in set(from_ann) | set(entities)
    )


def _refuse_duplicate_ann(files: TaskFiles) -> None:
    """Two different ``.ann`` files for one tweet: no safe way to choose between them."""
    seen: dict[str, str] = {}
    for ann in files.ann:
        if ann.stem in seen:
            raise HarnessError(
                f"{files.source}: two different .ann files for tweet {shown(ann.stem)}: "
                f"{seen[ann.stem]} and {ann.where}"
            )
        seen[ann.stem] = ann.where
