"""Check a submission before uploading it: every problem, located, with a severity.

The official scorer forgives a lot silently (unknown types, bad rows, missing tweets
are just not counted), so a broken submission still "scores", only lower -- or, with
duplicated rows, higher than it is worth. This module is the strict counterpart:
*errors* are things that change the score or break the upload (wrong offsets, misspelt
types such as ``SITUACION LABORAL``, unknown or missing tweets, duplicated rows, which
the scorer counts once per copy); *warnings* are harmless to the score but probably
unintended (rows of types the task does not evaluate, header spelling, empty lines).
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from core.corpus import Split
from core.display import shown
from core.tweets import ALL_PROFNER_TYPES, EVALUATED_TYPES
from eval.records import Note
from eval.tsv import NO_ENTITY, TASK_7A, TASK_7B, numbered_lines, type_hint
from submissions.brat import read_ann
from submissions.formats import HEADER_7A, HEADER_7B, tsv_safe
from submissions.gold import Reference
from submissions.sources import SourceFile, TaskFiles, collect_task_files

Severity = Literal["error", "warning"]
_INTEGER = re.compile(r"[0-9]+")
#: What cannot be checked without the tweets' texts (against gold TSVs).
TEXT_CHECKS = "span inside the tweet's text, extraction (brat: mention) equal to the text"
#: Tweet id -> text, ``None`` where the text is unknown; the keys are the universe.
Tweets = Mapping[str, str | None]
#: Why a duplicated 7b row is an error: the scorer does not ignore it, it counts it.
DUPLICATE_EFFECT = "the official scorer counts every copy, so the score misleads"


@dataclass(frozen=True)
class Problem:
    """One finding: where (file and 1-based line, when it has one), how bad, what."""

    source: str
    line: int | None
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"

    @staticmethod
    def from_note(note: Note, severity: Severity) -> Problem:
        return Problem(note.source, note.line, severity, note.message)


class _Findings:
    """Collects problems for one file, so the checks read as a list of rules."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def error(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.source, line, "error", message))

    def warning(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(self.source, line, "warning", message))


def skipped_checks(against: Split | Reference) -> str | None:
    """The checks :func:`validate` cannot make against ``against``, ``None`` if none.

    Gold TSVs list the tweets but carry no texts, so offsets can only be checked for
    being integers that make a non-empty span, not against the tweet.
    """
    if isinstance(against, Reference) and against.texts is None:
        return TEXT_CHECKS
    return None


def _tweets(against: Split | Reference) -> tuple[Tweets, str]:
    """Tweet id -> text (``None`` when unknown), and how messages name that set."""
    if isinstance(against, Split):
        return {t.id: t.text for t in against.tweets}, f"split '{against.name}'"
    if against.texts is not None:
        return dict(against.texts), against.name
    return dict.fromkeys(against.tweet_ids), against.name


def validate(preds: str | os.PathLike[str], against: Split | Reference) -> list[Problem]:
    """Every problem of the submission under ``preds`` against a split's tweets.

    ``preds`` is what ``harness score`` accepts: a TSV, a folder or zip of TSVs and/or
    brat ``.ann`` files, or a folder of CodaLab zips. ``against`` is a corpus split, or
    what ``harness score`` takes as GOLD (:func:`submissions.gold.load_reference`);
    without texts (gold TSVs) the checks :func:`skipped_checks` names are not made. The
    result is in file order; an empty list means the submission is clean.
    """
    files = collect_task_files(preds)
    problems = [Problem.from_note(n, "error") for n in files.errors]
    problems += [Problem.from_note(n, "warning") for n in files.notes]
    if isinstance(against, Reference) and against.gold is not None:
        # what reading the gold found (a gold row dropped for an unknown type changes
        # the gold count): the submission is judged against that gold
        problems += [Problem.from_note(n, "warning") for n in against.gold.notes]
    if files.empty and not files.errors:
        problems.append(
            Problem(
                files.source,
                None,
                "error",
                "no submission found (a 7a or 7b TSV starting with its header, "
                "or brat .ann files named by tweet id)",
            )
        )
    problems += _check_layout(files)
    tweets, universe = _tweets(against)
    for candidate in files.tsv[TASK_7A]:
        problems += check_7a(candidate, tweets, universe)
    for candidate in files.tsv[TASK_7B]:
        problems += check_7b(candidate, tweets, universe)
    problems += check_brat(files.ann, tweets, universe)
    return problems


def _check_layout(files: TaskFiles) -> list[Problem]:
    """What CodaLab would refuse: several files for one task, TSVs not at a zip root."""
    problems = []
    for task, candidates in files.tsv.items():
        if len(candidates) > 1:
            names = ", ".join(c.where for c in candidates)
            problems.append(
                Problem(
                    files.source,
                    None,
                    "error",
                    f"{len(candidates)} different task {task} files: {names}; keep exactly one",
                )
            )
    by_zip: dict[str, set[str]] = defaultdict(set)
    for task, candidates in files.tsv.items():
        for candidate in candidates:
            if candidate.container is None:
                continue
            by_zip[candidate.container].add(task)
            if "/" in candidate.name:
                problems.append(
                    Problem(
                        candidate.where,
                        None,
                        "warning",
                        "not at the root of its zip, where CodaLab expects it",
                    )
                )
    for container, tasks in by_zip.items():
        if len(tasks) > 1:
            problems.append(
                Problem(
                    container,
                    None,
                    "warning",
                    "holds both 7a and 7b files; CodaLab takes one zip per "
                    "sub-task with a single TSV",
                )
            )
    return problems


def _check_header(found: _Findings, first: str, header: str) -> None:
    """The header was recognised leniently (case, blanks); say so if it is not exact."""
    got = first.rstrip("\r")
    if got != header:
        found.warning(1, f"header should be exactly {header!r}, got {got!r}")


def _rows(
    file: SourceFile, found: _Findings, header: str, width: int
) -> Iterator[tuple[int, list[str]]]:
    """(line number, tab-separated fields) of each data row with ``width`` fields; the
    header, empty lines and rows of another width are reported, not yielded."""
    for number, raw in numbered_lines(file.text):
        if number == 1:
            _check_header(found, raw, header)
            continue
        line = raw.rstrip("\r")
        if not line.strip():
            found.warning(number, "empty line")
            continue
        fields = line.split("\t")
        if len(fields) != width:
            found.error(number, f"expected {width} tab-separated fields, got {len(fields)}")
            continue
        yield number, fields


def _check_tweet(found: _Findings, line: int, tweet_id: str, tweets: Tweets, universe: str) -> bool:
    if tweet_id in tweets:
        return True
    found.error(line, f"tweet {tweet_id!r} is not in {universe}")
    return False


def check_7a(file: SourceFile, tweets: Tweets, universe: str) -> list[Problem]:
    """Rows of two fields, known tweets, labels 0/1, every tweet exactly once."""
    found = _Findings(file.where)
    first_seen: dict[str, int] = {}
    for number, fields in _rows(file, found, HEADER_7A, 2):
        tweet_id, label = (f.strip() for f in fields)
        if not _check_tweet(found, number, tweet_id, tweets, universe):
            continue
        if label not in ("0", "1"):
            found.error(number, f"label must be 0 or 1, got {label!r}")
        if tweet_id in first_seen:
            found.error(
                number,
                f"tweet {shown(tweet_id)} listed again (first at line {first_seen[tweet_id]})",
            )
        first_seen.setdefault(tweet_id, number)
    missing = [tweet_id for tweet_id in tweets if tweet_id not in first_seen]
    if missing:
        found.error(
            None,
            f"{len(missing)} tweet(s) of {universe} missing "
            f"(e.g. {missing[0]}); every tweet must be listed exactly once",
        )
    return found.problems


def _check_type(found: _Findings, line: int, etype: str) -> None:
    if etype in EVALUATED_TYPES:
        return
    if etype in ALL_PROFNER_TYPES:
        found.warning(line, f"type {etype} is not evaluated; the official scorer ignores the row")
        return
    found.error(
        line,
        f"unknown type {etype!r}{type_hint(etype)}; the official scorer silently drops the row",
    )


def _check_offsets(
    found: _Findings, line: int, begin: str, end: str, text: str | None, mention: str | None
) -> tuple[int, int] | None:
    """Integer offsets inside the text and a mention that matches them; without the
    text, only integer offsets that make a non-empty span."""
    if not (_INTEGER.fullmatch(begin) and _INTEGER.fullmatch(end)):
        found.error(line, f"offsets must be non-negative integers, got {begin!r} {end!r}")
        return None
    b, e = int(begin), int(end)
    if text is None:
        if not b < e:
            found.error(line, f"span {b}-{e} is empty")
            return None
        return b, e
    if not b < e <= len(text):
        found.error(line, f"span {b}-{e} is empty or outside the text (length {len(text)})")
        return None
    expected = tsv_safe(text[b:e])
    if mention is not None and mention != expected:
        hint = ""
        where = text.find(mention) if mention else -1
        if where >= 0:
            hint = (
                f"; it occurs at {where}-{where + len(mention)} (offsets count Unicode "
                "code points, end exclusive)"
            )
        found.error(
            line, f"extraction {mention!r} differs from the text at {b}-{e} ({expected!r}){hint}"
        )
    return b, e


def check_7b(file: SourceFile, tweets: Tweets, universe: str) -> list[Problem]:
    """Rows of five fields, known tweets and types, offsets and extractions that agree."""
    found = _Findings(file.where)
    first_seen: dict[tuple[str, int, int, str], int] = {}
    for number, fields in _rows(file, found, HEADER_7B, 5):
        tweet_id, begin, end, etype = (f.strip() for f in fields[:4])
        mention = fields[4]
        if not _check_tweet(found, number, tweet_id, tweets, universe):
            continue
        if begin == end == etype == NO_ENTITY:
            if mention.strip() != NO_ENTITY:
                found.warning(number, f"a '-' row should have '-' as extraction, got {mention!r}")
            continue
        _check_type(found, number, etype)
        offsets = _check_offsets(found, number, begin, end, tweets[tweet_id], mention)
        if offsets is not None:
            key = (tweet_id, *offsets, etype)
            if key in first_seen and etype in EVALUATED_TYPES:  # others are not counted
                found.error(number, f"duplicate of line {first_seen[key]}; {DUPLICATE_EFFECT}")
            first_seen.setdefault(key, number)
    return found.problems


def check_brat(files: Iterable[SourceFile], tweets: Tweets, universe: str) -> list[Problem]:
    """The ``.ann`` files: named by known tweets, one per tweet, well-formed ``T`` lines."""
    problems: list[Problem] = []
    first_file: dict[str, str] = {}
    for file in files:
        found = _Findings(file.where)
        tweet_id = file.stem
        if tweet_id in first_file:
            found.error(
                None,
                f"a second, different .ann file for tweet {shown(tweet_id)} "
                f"(first: {first_file[tweet_id]})",
            )
        first_file.setdefault(tweet_id, file.where)
        if tweet_id not in tweets:
            found.error(None, f"tweet {tweet_id!r} (from the file name) is not in {universe}")
            problems += found.problems
            continue
        rows, notes = read_ann(file.text, file.where)
        found.problems += [Problem.from_note(n, "error") for n in notes]
        seen: dict[tuple[int, int, str], int] = {}
        for row in rows:
            _check_type(found, row.line, row.type)
            offsets = _check_offsets(
                found, row.line, row.begin, row.end, tweets[tweet_id], row.mention
            )
            if offsets is not None:
                key = (*offsets, row.type)
                if key in seen and row.type in EVALUATED_TYPES:  # others are not counted
                    found.error(row.line, f"duplicate of line {seen[key]}; {DUPLICATE_EFFECT}")
                seen.setdefault(key, row.line)
        problems += sorted(found.problems, key=lambda p: p.line or 0)
    return problems
