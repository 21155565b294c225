"""Find the submission files inside whatever the user points at.

PREDS may be a single TSV, a folder, a zip, or a folder holding the CodaLab zips
(``task7a.zip``, ``task7b.zip``); zips inside it are opened one level deep. TSVs are
recognised by their header, not their name, because participants named files freely;
brat ``.ann`` files are recognised by their extension and named by tweet id.

Collecting never raises on a bad file inside PREDS: it records located errors and notes,
so the scorer can stop at the first error while the validator reports them all. PREDS
itself missing, or named ``*.zip`` without being one, stops at once: there is nothing
inside to report on. A zip member whose path leaves the zip (``../task7b.tsv``) is never
read, and said so: ignored in silence, it would make a submission score 0 unexplained.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from core.display import shown
from core.errors import HarnessError
from core.fileio import Bundle, is_zip_path, open_zip, read_file, read_zip_member
from eval.records import Note
from eval.tsv import TASK_7A, TASK_7B, detect_task

#: Only these file kinds are opened; model weights or logs in a run folder are skipped.
_RELEVANT_SUFFIXES = {".tsv", ".txt", ".csv", ".ann", ".zip", ""}


@dataclass(frozen=True)
class SourceFile:
    """One decoded text file found in PREDS (or in a zip inside it)."""

    #: Location for messages: ``folder/file``, ``archive.zip:member``, ...
    where: str
    #: Path inside its container, ``/``-separated (the zip member name, or the relative path).
    name: str
    #: ``where`` of the zip holding the file, ``None`` for plain files.
    container: str | None
    text: str

    @property
    def stem(self) -> str:
        return PurePosixPath(self.name).stem


@dataclass
class TaskFiles:
    """The submission files found under one path, sorted by task."""

    source: str
    #: task ("7a"/"7b") -> candidate TSVs, byte-identical copies counted once (with a note
    #: unless the copy is the CodaLab zip's, one level down).
    tsv: dict[str, list[SourceFile]] = field(default_factory=lambda: {TASK_7A: [], TASK_7B: []})
    ann: list[SourceFile] = field(default_factory=list)
    #: Problems that make a file unusable (not UTF-8, empty TSV, broken zip).
    errors: list[Note] = field(default_factory=list)
    #: Remarks that do not stop scoring (unrecognised TSVs that were ignored).
    notes: list[Note] = field(default_factory=list)

    def raise_errors(self) -> None:
        """Stop with the first unusable file, as one line."""
        if self.errors:
            more = f" (and {len(self.errors) - 1} more problem(s))" if len(self.errors) > 1 else ""
            raise HarnessError(f"{self.errors[0]}{more}")

    def single(self, task: str) -> SourceFile | None:
        """The one TSV for ``task``, ``None`` if there is none; two different ones are an
        error because there is no safe way to pick (CodaLab refused them too)."""
        candidates = self.tsv[task]
        if len(candidates) > 1:
            names = " and ".join(c.where for c in candidates[:2])
            raise HarnessError(
                f"{self.source}: two different task {task} submission files: {names}; "
                "keep exactly one"
            )
        return candidates[0] if candidates else None

    @property
    def empty(self) -> bool:
        return not (self.tsv[TASK_7A] or self.tsv[TASK_7B] or self.ann)


def _ignored(name: str) -> bool:
    """Hidden and underscore names (``.DS_Store``, ``__MACOSX/``) as CodaLab ignored them."""
    return any(part.startswith((".", "_")) for part in PurePosixPath(name).parts)


def _leaves_zip(name: str) -> bool:
    """True for a zip member path that would land outside the folder it is unpacked
    into: absolute, with a drive letter, or with a ``..`` part (either separator)."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or (len(name) > 1 and name[1] == ":")


class _Warning(NamedTuple):
    """A located remark found while walking, that does not make PREDS unusable."""

    note: Note


def _outside_zip_warning(where: str, name: str) -> _Warning:
    return _Warning(
        Note(
            f"{where}:{shown(name)}",
            None,
            "its path leads out of the zip ('..' or absolute); ignored -- CodaLab reads "
            "the submission file at the zip root",
        )
    )


#: A relevant file as (where, name, container, bytes), a located error, or a warning.
_Found = tuple[str, str, str | None, bytes] | Note | _Warning


def _walk(path: Path) -> Iterator[_Found]:
    """Every relevant file under ``path``, opening zips found inside one level deep."""
    if path.is_file() and not is_zip_path(path):
        yield str(path), path.name, None, read_file(path)
        return
    with Bundle(path) as bundle:
        container = str(path) if bundle.is_zip else None
        for name in bundle.names():
            if bundle.is_zip and _leaves_zip(name):
                yield _outside_zip_warning(str(path), name)
                continue
            suffix = PurePosixPath(name).suffix.lower()
            if _ignored(name) or suffix not in _RELEVANT_SUFFIXES:
                continue
            data = bundle.read_bytes(name)
            if suffix == ".zip":
                yield from _walk_nested_zip(bundle.where(name), data)
            else:
                yield bundle.where(name), name, container, data


def _walk_nested_zip(where: str, data: bytes) -> Iterator[_Found]:
    """The relevant members of a zip found inside PREDS (``task7b.zip`` in a run
    folder); a bad one becomes a located error, in the words :func:`open_zip` uses."""
    try:
        archive = open_zip(io.BytesIO(data), where)
    except HarnessError as err:
        yield _error_note(where, err)
        return
    with archive:
        for info in archive.infolist():
            if not info.is_dir() and _leaves_zip(info.filename):
                yield _outside_zip_warning(where, info.filename)
                continue
            suffix = PurePosixPath(info.filename).suffix.lower()
            if info.is_dir() or _ignored(info.filename) or suffix in ("", ".zip"):
                continue  # one level of nesting is enough for CodaLab zips
            if suffix not in _RELEVANT_SUFFIXES:
                continue
            member = f"{where}:{shown(info.filename)}"
            try:
                yield member, info.filename, where, read_zip_member(archive, info.filename, member)
            except HarnessError as err:
                yield _error_note(member, err)


def _error_note(where: str, err: HarnessError) -> Note:
    """A located note from an error whose message starts with ``where: ``."""
    return Note(where, None, str(err).removeprefix(f"{where}: "))


def _decode(data: bytes, where: str) -> str | Note:
    """The text without a byte-order mark, or a note locating the first bad byte."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        return Note(where, line, f"not valid UTF-8 (byte {err.start})")
    return text.removeprefix("\ufeff")


def collect_task_files(path: str | os.PathLike[str]) -> TaskFiles:
    """Sort the files under ``path`` into 7a TSVs, 7b TSVs and brat ``.ann`` files.

    A missing path raises at once (nothing to report on); everything else is recorded.
    """
    path = Path(path)
    if not path.exists():
        raise HarnessError(f"{path}: no such file or folder")
    found = TaskFiles(source=str(path))
    for item in _walk(path):
        if isinstance(item, _Warning):
            found.notes.append(item.note)
        elif isinstance(item, Note):
            found.errors.append(item)
        else:
            _sort_file(found, *item)
    # The same .ann twice (loose and inside brat.zip) is one file, not double entities.
    unique: dict[tuple[str, str], SourceFile] = {}
    for ann in found.ann:
        unique.setdefault((ann.stem, ann.text), ann)
    found.ann = list(unique.values())
    return found


def _sort_file(found: TaskFiles, where: str, name: str, container: str | None, data: bytes) -> None:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".ann":
        decoded = _decode(data, where)
        if isinstance(decoded, Note):
            found.errors.append(decoded)
        else:
            found.ann.append(SourceFile(where, name, container, decoded))
        return
    first_line = _decode(data.split(b"\n", 1)[0], where)
    task = None if isinstance(first_line, Note) else detect_task(first_line)
    if task is None:
        if suffix == ".tsv":  # other kinds (brat texts, readmes) are simply not submissions
            _unrecognised_tsv(found, where, data, first_line)
        return
    decoded = _decode(data, where)
    if isinstance(decoded, Note):
        found.errors.append(decoded)
        return
    copy = next((f for f in found.tsv[task] if f.text == decoded), None)
    if copy is None:
        found.tsv[task].append(SourceFile(where, name, container, decoded))
    elif _nested(found, copy.container) == _nested(found, container):
        found.notes.append(
            Note(
                found.source,
                None,
                f"two identical task {task} submission files: {copy.where} and {where}; "
                "scored once -- keep exactly one",
            )
        )


def _nested(found: TaskFiles, container: str | None) -> bool:
    """True for a file inside a zip inside PREDS (not PREDS itself).

    A TSV beside the CodaLab zip that holds the same bytes is the layout ``harness run``
    writes, so a copy one level down is expected; two copies side by side are not.
    """
    return container is not None and container != found.source


def _unrecognised_tsv(found: TaskFiles, where: str, data: bytes, first_line: str | Note) -> None:
    """A ``.tsv`` without a submission header: an error when it cannot be one at all."""
    if not data.strip():
        found.errors.append(Note(where, None, "empty file"))
    elif isinstance(first_line, Note):
        found.errors.append(first_line)
    else:
        found.notes.append(
            Note(
                where,
                1,
                f"not a 7a or 7b submission (first line {first_line.rstrip()!r}); "
                "ignored -- submission TSVs start with their header",
            )
        )
