"""Read 7a and 7b TSVs exactly as the official ProfNER scorer read them.

The same rules apply to gold and predictions (see ``docs/scoring.md`` of the shared
data): each line is split on TAB and every field stripped; a line with the wrong number
of fields, the header, and rows of tweets outside the split are skipped; for 7b only the
evaluated types are kept and duplicates count twice. Where the official scorer was
silent we add a located warning, but never change what is counted, so a sloppy
submission scores here exactly as it did on CodaLab.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection, Iterator, Mapping, Sequence

from core.corpus import TSV_7A_HEADER, TSV_7B_HEADER
from core.display import CONTROL_CATEGORIES, shown
from core.tweets import ALL_PROFNER_TYPES, EVALUATED_TYPES
from eval.records import Entity, EntityTable, LabelTable, Note

TASK_7A = "7a"
TASK_7B = "7b"
#: The value of every column of the 7b row that says "this tweet has no entity".
NO_ENTITY = "-"
#: Header spellings that identify a file's task (the corpus README calls 7a's column "class").
_HEADERS = {
    TSV_7B_HEADER: TASK_7B,
    TSV_7A_HEADER: TASK_7A,
    ("tweet_id", "class"): TASK_7A,
}
_FIELDS = {TASK_7A: len(TSV_7A_HEADER), TASK_7B: len(TSV_7B_HEADER)}
#: What Python 2's ``int()`` accepted from a stripped field (the scorer ran on Python 2).
_INTEGER = re.compile(r"[+-]?[0-9]+")
#: Types the ProfNER gold holds but the task does not evaluate: a gold file's rows of
#: these are dropped as expected, without a warning each.
KNOWN_UNEVALUATED = tuple(t for t in ALL_PROFNER_TYPES if t not in EVALUATED_TYPES)


def detect_task(first_line: str) -> str | None:
    """``"7a"``/``"7b"`` when ``first_line`` is a submission header, else ``None``.

    Recognition is by content, not file name, because participants named files freely;
    it ignores case, surrounding blanks, a byte-order mark and a trailing CR.
    """
    fields = tuple(f.strip().lower() for f in first_line.lstrip("\ufeff").split("\t"))
    return _HEADERS.get(fields)


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) pairs, splitting on LF only as Python 2 did.

    A final newline does not make an extra empty line; a CR before LF stays on the line
    (fields are stripped later, so CRLF files read the same as LF files).
    """
    lines = text.lstrip("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return enumerate(lines, start=1)


def _split_fields(line: str) -> list[str]:
    return [field.strip() for field in line.split("\t")]


def _shape_warning(source: str, number: int, line: str, expected: int, got: int) -> Note:
    if not line.strip():
        return Note(source, number, "empty line skipped")
    return Note(
        source, number, f"expected {expected} tab-separated fields, got {got}; line skipped"
    )


def entity_from_columns(begin: str, end: str, etype: str) -> tuple[Entity | None, str | None]:
    """Apply the official keep-rules to one stripped (begin, end, type) triple.

    Returns ``(entity, None)`` for a counted entity, ``(None, reason)`` for a row the
    official scorer dropped (the reason becomes a warning), and ``(None, None)`` for the
    ``-`` row that marks a tweet without entities, which is dropped silently because it
    is the gold standard's own convention.
    """
    if begin == end == etype == NO_ENTITY:
        return None, None
    if etype not in EVALUATED_TYPES:
        evaluated = ", ".join(EVALUATED_TYPES)
        return None, f"type {etype!r} is not evaluated ({evaluated}){type_hint(etype)}; row ignored"
    if not (_INTEGER.fullmatch(begin) and _INTEGER.fullmatch(end)):
        return None, f"offsets must be integers, got {begin!r} {end!r}; row skipped"
    return Entity(int(begin), int(end), etype), None


def type_hint(etype: str) -> str:
    """`` (did you mean PROFESION?)`` when ``etype`` is an evaluated type misspelt by
    case, blanks or hyphens, or hidden behind invisible characters, else ``""``.

    ``PROFESION\\0`` prints like ``PROFESION`` on most terminals, so without the hint a
    warning about it reads as nonsense.
    """
    visible = "".join(c for c in etype if unicodedata.category(c) not in CONTROL_CATEGORIES)
    if visible != etype and visible in EVALUATED_TYPES:
        return f" (did you mean {visible}? it differs by invisible characters)"
    normalised = visible.strip().upper().replace(" ", "_").replace("-", "_")
    if normalised in EVALUATED_TYPES:
        return f" (did you mean {normalised}?)"
    return ""


def span_outside_text(entity: Entity, text: str) -> bool:
    """True when ``entity`` is not a non-empty span inside ``text`` (code point offsets,
    end exclusive): the rows ``harness validate`` calls errors for their offsets."""
    return not 0 <= entity.begin < entity.end <= len(text)


def outside_text_notes(source: str, lines: Sequence[int]) -> list[Note]:
    """One note for a file whose counted rows at ``lines`` have spans outside their text.

    The official scorer never looked at the texts, so such a row is counted as written
    (a false positive, unless the bug-compatible relaxed rule lets it reach a gold
    start); we keep that count and only say so, once per file rather than per row.
    """
    if not lines:
        return []
    return [
        Note(
            source,
            None,
            f"{len(lines)} row(s) with a span empty or outside the tweet's text, first at "
            f"line {lines[0]}; counted as written, as the official scorer did "
            "('harness validate' lists each)",
        )
    ]


def parse_7b(
    text: str,
    source: str,
    tweet_ids: Collection[str],
    texts: Mapping[str, str] | None = None,
    *,
    quiet_types: Collection[str] = (),
) -> tuple[EntityTable, list[Note]]:
    """Read a 7b TSV (gold or prediction) into per-tweet entity lists.

    Every id of ``tweet_ids`` is a key of the result, so a tweet without rows simply has
    no entities. Rows are kept in file order and duplicates are kept: the official
    scorer counted a duplicated prediction twice. With the tweets' ``texts`` (a corpus
    split), rows whose span lies outside their text are still counted but reported in
    one note, because the official scorer counted them in silence.

    Every row dropped for its type gets a note, except rows of ``quiet_types``: a gold
    file passes :data:`KNOWN_UNEVALUATED`, the types the ProfNER gold is known to hold,
    so that what remains are the rows that change the gold count by surprise.
    """
    known = set(tweet_ids)
    table: EntityTable = {tweet_id: [] for tweet_id in tweet_ids}
    notes: list[Note] = []
    outside: list[int] = []
    for number, line in numbered_lines(text):
        fields = _split_fields(line)
        if len(fields) != _FIELDS[TASK_7B]:
            notes.append(_shape_warning(source, number, line, _FIELDS[TASK_7B], len(fields)))
            continue
        tweet_id, begin, end, etype, _extraction = fields
        if tweet_id == "tweet_id":
            continue
        if tweet_id not in known:
            notes.append(
                Note(source, number, f"tweet {shown(tweet_id)} is not in the split; row skipped")
            )
            continue
        entity, reason = entity_from_columns(begin, end, etype)
        if reason is not None and etype not in quiet_types:
            notes.append(Note(source, number, reason))
        if entity is not None:
            table[tweet_id].append(entity)
            tweet_text = None if texts is None else texts.get(tweet_id)
            if tweet_text is not None and span_outside_text(entity, tweet_text):
                outside.append(number)
    return table, notes + outside_text_notes(source, outside)


def parse_7a(text: str, source: str, tweet_ids: Collection[str]) -> tuple[LabelTable, list[Note]]:
    """Read a 7a TSV (gold or prediction) into a tweet id -> 0/1 mapping.

    Rows with another label than 0 or 1 are skipped with a warning; a tweet listed twice
    keeps its later label (with a warning). Tweets of the split that are absent are
    simply missing from the result; the scorer decides what that means.
    """
    known = set(tweet_ids)
    labels: LabelTable = {}
    first_line: dict[str, int] = {}
    notes: list[Note] = []
    for number, line in numbered_lines(text):
        fields = _split_fields(line)
        if len(fields) != _FIELDS[TASK_7A]:
            notes.append(_shape_warning(source, number, line, _FIELDS[TASK_7A], len(fields)))
            continue
        tweet_id, label = fields
        if tweet_id == "tweet_id":
            continue
        if tweet_id not in known:
            notes.append(
                Note(source, number, f"tweet {shown(tweet_id)} is not in the split; row skipped")
            )
            continue
        if label not in ("0", "1"):
            notes.append(Note(source, number, f"label must be 0 or 1, got {label!r}; row skipped"))
            continue
        if tweet_id in labels:
            notes.append(
                Note(
                    source,
                    number,
                    f"tweet {shown(tweet_id)} labelled again (first at line "
                    f"{first_line[tweet_id]}); "
                    "the later label is used",
                )
            )
        first_line.setdefault(tweet_id, number)
        labels[tweet_id] = int(label)
    return labels, notes


def listed_tweet_ids(text: str, task: str) -> list[str]:
    """The tweet ids of a gold TSV's well-formed rows, in first-seen order.

    Used when the gold is a folder of TSVs and there is no text folder to define the
    split: the 7a gold lists every tweet, and the 7b gold lists every tweet too thanks
    to its ``-`` rows.
    """
    seen: dict[str, None] = {}
    for _number, line in numbered_lines(text):
        fields = _split_fields(line)
        if len(fields) == _FIELDS[task] and fields[0] != "tweet_id":
            seen.setdefault(fields[0], None)
    return list(seen)
