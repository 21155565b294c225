"""Which rows of an input become tweets, and why the others do not.

A row without text, with undecodable bytes, with an id seen before or with a text of
over :data:`~core.tweet_sources.MAX_TEXT_CHARS` characters is a :class:`BadRow`: counted,
reported with its ``FILE:LINE``, and either skipped or fatal (``--on-bad-row``). None of
them may vanish in silence, and none may become a prediction for the wrong tweet: a
duplicate id would give two rows of output that a reader cannot tell apart.

Duplicates are found against every id seen so far, which for a corpus of millions
would make memory grow with the input; :class:`SeenIds` keeps them on disk instead.
"""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import HarnessError
from core.tweet_sources import MAX_TEXT_CHARS, Row
from core.tweets import Tweet, check_tweet_id

#: the kinds a bad row is counted under (the summary's keys)
NO_TEXT = "no text"
NO_ID = "no id"
UNREADABLE = "unreadable"
TOO_LONG = "too long"
DUPLICATE = "duplicate id"
BAD_ID = "unwritable id"


@dataclass(frozen=True)
class BadRow:
    """A row that is not predicted: where it is, its id when it has one, and why."""

    where: str
    id: str | None
    kind: str
    reason: str

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)

    def line(self) -> str:
        return f"{self.where}: {self.reason}"


class SeenIds:
    """The set of tweet ids met so far, in an SQLite file: memory stays flat whatever
    the number of ids (the page cache is SQLite's default, a few MiB)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        # nothing here must survive a crash: a rerun reads the input again from the start
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE seen (id TEXT PRIMARY KEY, at TEXT) WITHOUT ROWID")
        self._db.execute("BEGIN")
        self._pending = 0

    def first_place(self, tweet_id: str, where: str) -> str | None:
        """Record ``tweet_id`` as met at ``where``; if it was met before, where that was."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO seen (id, at) VALUES (?, ?)", (tweet_id, where)
        )
        if cursor.rowcount:
            self._pending += 1
            if self._pending >= 50_000:
                self._db.execute("COMMIT")
                self._db.execute("BEGIN")
                self._pending = 0
            return None
        row = self._db.execute("SELECT at FROM seen WHERE id = ?", (tweet_id,)).fetchone()
        return str(row[0])

    def close(self) -> None:
        self._db.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> SeenIds:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def bad_row(row: Row, max_chars: int = MAX_TEXT_CHARS) -> BadRow | None:
    """What is wrong with ``row`` taken alone (duplicates need :class:`RowChecker`)."""
    if row.problem is not None:
        return BadRow(row.where, row.id, UNREADABLE, row.problem)
    if row.id is None or not row.id:
        return BadRow(row.where, None, NO_ID, "no id")
    try:
        check_tweet_id(row.id, row.where)
    except HarnessError as err:
        return BadRow(row.where, row.id, BAD_ID, str(err).removeprefix(f"{row.where}: "))
    if row.text is None or not row.text.strip():
        return BadRow(row.where, row.id, NO_TEXT, "no text")
    if len(row.text) > max_chars:
        return BadRow(
            row.where, row.id, TOO_LONG, f"text of {len(row.text)} characters (over {max_chars})"
        )
    return None


def duplicate(row: Row, first_at: str) -> BadRow:
    return BadRow(row.where, row.id, DUPLICATE, f"duplicate id {row.id!r} (first at {first_at})")


class RowChecker:
    """Turns rows into tweets, in reading order: the first good row of an id wins."""

    def __init__(self, seen: SeenIds, max_chars: int = MAX_TEXT_CHARS):
        self.seen = seen
        self.max_chars = max_chars

    def check(self, row: Row) -> Tweet | BadRow:
        problem = bad_row(row, self.max_chars)
        if problem is not None:
            return problem
        assert row.id is not None and row.text is not None
        first_at = self.seen.first_place(row.id, row.where)
        if first_at is not None:
            return duplicate(row, first_at)
        return Tweet(id=row.id, text=row.text)
