"""Tweets from files of any size: JSON Lines, CSV, TSV, Parquet, and the corpus layouts.

``harness predict --input`` runs a model over collections far larger than memory, so
every reader here yields one :class:`Row` at a time and never holds a file whole (the
corpus layouts excepted: a ProfNER split is small and its reader is the corpus's own).
A row carries where it came from (``FILE:LINE``, or ``FILE:row N`` for Parquet) so that
a bad one can be reported where the user can find it; the reading never stops at a bad
row, it says what is wrong with it (:attr:`Row.problem`) and goes on, and the caller
decides (``--on-bad-row``). Problems of a whole file (a CSV without the id column, a
Parquet file that cannot be opened) stop with one line instead.

The same readers parse a file's bytes on a Ray worker (:func:`read_stream`), so both
ways of predicting see exactly the same rows, problems and places.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from core.errors import HarnessError, first_line

#: the formats ``--input`` reads, by file name ending (``.gz`` may follow the text ones)
SUFFIXES: dict[str, str] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}
#: the value of ``--input`` that names the embedded corpus or the downloaded one
CORPUS_NAMES = ("sample", "profner")
CORPUS = "corpus"
#: a longer text is not a tweet (the limit is 280 characters): a concatenated file, a
#: field swap, or a denial of service for the tokenizers
MAX_TEXT_CHARS = 10_000


@dataclass(frozen=True)
class Fields:
    """The names of the id and text fields (JSON keys, CSV/TSV header cells, Parquet
    columns). Twitter's own dumps call them ``id_str`` and ``full_text``."""

    id: str = "id"
    text: str = "text"


@dataclass(frozen=True)
class InputFile:
    """One file (or corpus) to read, its format, and the name reports give it."""

    path: Path
    format: str
    name: str

    @property
    def gzipped(self) -> bool:
        return self.path.name.lower().endswith(".gz")

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this input for a restart: a changed file is another job."""
        stat = self.path.stat()
        return {
            "path": str(self.path.resolve()),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }


@dataclass(frozen=True)
class Row:
    """One record as read: ``problem`` says why it cannot be a tweet, when reading
    already knows (undecodable bytes, invalid JSON, a missing field)."""

    where: str
    id: str | None
    text: str | None
    problem: str | None = None


def format_of(path: Path) -> str | None:
    """The format a file name announces, or ``None``."""
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
        if name.endswith(".parquet"):
            return None  # Parquet compresses inside; a gzipped one cannot be streamed
    return SUFFIXES.get(Path(name).suffix)


def _is_corpus_folder(path: Path) -> bool:
    return (path / "txt-files").is_dir() or any(
        (child / "txt-files").is_dir() for child in path.iterdir() if child.is_dir()
    )


def expand_inputs(paths: Sequence[str]) -> list[InputFile]:
    """The files ``--input`` names, in the order given (a folder's files in name order).

    A folder holding a ProfNER ``txt-files/`` folder, a zip, ``sample`` or ``profner``
    is a corpus. Any other folder contributes every file below it with a known ending.
    """
    from core.datasets import resolve  # the download code only when a corpus is named

    found: list[InputFile] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and given in CORPUS_NAMES:
            found.append(InputFile(resolve(given), CORPUS, given))
        elif not path.exists():
            raise HarnessError(f"--input {given}: no such file or folder")
        elif path.is_dir() and _is_corpus_folder(path):
            found.append(InputFile(path, CORPUS, given))
        elif path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and format_of(p))
            if not files:
                raise HarnessError(
                    f"--input {given}: holds no .jsonl, .csv, .tsv or .parquet file "
                    "(nor a ProfNER txt-files/ folder)"
                )
            found += [InputFile(p, str(format_of(p)), str(p)) for p in files]
        elif path.suffix.lower() == ".zip":
            found.append(InputFile(path, CORPUS, given))
        elif format_of(path) is None:
            raise HarnessError(
                f"--input {given}: unknown format (name it .jsonl, .csv, .tsv or .parquet, "
                "the text ones optionally .gz, or give a ProfNER corpus)"
            )
        else:
            found.append(InputFile(path, str(format_of(path)), given))
    seen: dict[Path, str] = {}
    for source in found:
        key = source.path.resolve()
        if key in seen:
            raise HarnessError(f"--input {source.name}: given twice (also as {seen[key]})")
        seen[key] = source.name
    return found


# -- reading ---------------------------------------------------------------------------------


def read_rows(source: InputFile, fields: Fields, split: str) -> Iterator[Row]:
    """The rows of one input, one at a time (``split`` picks a corpus's split)."""
    if source.format == CORPUS:
        yield from _corpus_rows(source, split)
        return
    try:
        handle: IO[bytes] = open(source.path, "rb")  # noqa: SIM115 (closed below)
    except OSError as err:
        raise HarnessError(f"{source.name}: cannot read it ({err.strerror})") from None
    with handle:
        yield from read_stream(handle, source, fields)


def read_stream(stream: IO[bytes], source: InputFile, fields: Fields) -> Iterator[Row]:
    """The rows of a file's bytes, whatever holds them (a file, or a Ray block)."""
    try:
        if source.gzipped:
            stream = gzip.GzipFile(fileobj=stream)
        if source.format == "jsonl":
            yield from _jsonl_rows(stream, source.name, fields)
        elif source.format == "parquet":
            yield from _parquet_rows(stream, source.name, fields)
        else:
            yield from _delimited_rows(stream, source.name, fields, source.format)
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise HarnessError(f"{source.name}: cannot read it ({first_line(err)})") from None


def _field(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if isinstance(value, bool):  # a bool is an int to Python, never an id or a text
        return str(value).lower()
    return str(value) if isinstance(value, int | str) else None


def _jsonl_rows(stream: IO[bytes], name: str, fields: Fields) -> Iterator[Row]:
    for number, raw in enumerate(stream, start=1):
        where = f"{name}:{number}"
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue  # a blank line holds no row (a trailing newline, a spacer)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as err:
            yield Row(where, None, None, f"undecodable bytes (not UTF-8 at byte {err.start})")
            continue
        try:
            record = json.loads(text)
        except ValueError as err:
            yield Row(where, None, None, f"not valid JSON ({first_line(err)})")
            continue
        if not isinstance(record, dict):
            yield Row(where, None, None, f"not a JSON object ({type(record).__name__})")
            continue
        raw_text = record.get(fields.text)
        if raw_text is not None and not isinstance(raw_text, str):
            yield Row(where, _field(record, fields.id), None, f"'{fields.text}' is not a string")
            continue
        yield Row(where, _field(record, fields.id), raw_text)


def _delimited_rows(stream: IO[bytes], name: str, fields: Fields, fmt: str) -> Iterator[Row]:
    """CSV with RFC 4180 quoting (a text may hold newlines); TSV one row per line, no
    quoting (a quote in a tweet is text), as the ProfNER TSVs are."""
    # surrogateescape keeps undecodable bytes as lone surrogates: the row is reported,
    # the file is not abandoned
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")
    if fmt == "csv":
        reader = csv.reader(text)
    else:
        reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        header = next(reader, None)
    except csv.Error as err:
        raise HarnessError(f"{name}:1: cannot read the header ({err})") from None
    if header is None:
        return
    header = [cell.lstrip("\ufeff") if i == 0 else cell for i, cell in enumerate(header)]
    missing = [f for f in (fields.id, fields.text) if f not in header]
    if missing:
        raise HarnessError(
            f"{name}:1: no column {', '.join(repr(m) for m in missing)} in the header "
            f"({', '.join(repr(h) for h in header[:8])}); name them with --id-field/--text-field"
        )
    id_at, text_at = header.index(fields.id), header.index(fields.text)
    line = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            yield Row(f"{name}:{line}", None, None, f"malformed row ({err})")
            line = reader.line_num + 1
            continue
        where, line = f"{name}:{line}", reader.line_num + 1
        if not cells or cells == [""]:
            continue
        if len(cells) != len(header):
            yield Row(where, None, None, f"{len(cells)} fields, the header has {len(header)}")
            continue
        tweet_id, tweet_text = cells[id_at], cells[text_at]
        if _undecodable(tweet_id) or _undecodable(tweet_text):
            yield Row(where, None, None, "undecodable bytes (not UTF-8)")
            continue
        yield Row(where, tweet_id or None, tweet_text)


def _undecodable(value: str) -> bool:
    return any("\udc80" <= char <= "\udcff" for char in value)


def _parquet_rows(stream: IO[bytes], name: str, fields: Fields) -> Iterator[Row]:
    parquet = parquet_module()
    try:
        table = parquet.ParquetFile(stream)
        columns = table.schema_arrow.names
    except Exception as err:  # pyarrow raises its own ArrowInvalid and OSError kinds
        raise HarnessError(f"{name}: not a readable Parquet file ({first_line(err)})") from None
    missing = [f for f in (fields.id, fields.text) if f not in columns]
    if missing:
        raise HarnessError(
            f"{name}: no column {', '.join(repr(m) for m in missing)} "
            f"({', '.join(repr(c) for c in columns[:8])}); name them with --id-field/--text-field"
        )
    number = 0
    for batch in table.iter_batches(batch_size=4096, columns=[fields.id, fields.text]):
        ids, texts = batch.column(0).to_pylist(), batch.column(1).to_pylist()
        for tweet_id, tweet_text in zip(ids, texts, strict=True):
            number += 1
            where = f"{name}:row {number}"
            if tweet_text is not None and not isinstance(tweet_text, str):
                yield Row(where, None, None, f"'{fields.text}' is not a string")
                continue
            yield Row(where, None if tweet_id is None else str(tweet_id), tweet_text)


def _corpus_rows(source: InputFile, split: str) -> Iterator[Row]:
    from core.corpus import load_corpus

    corpus = load_corpus(source.path, splits=[split])
    for tweet in corpus.split(split).tweets:
        yield Row(f"{source.name}:{split}/{tweet.id}.txt", tweet.id, tweet.text)


def parquet_module() -> Any:
    """``pyarrow.parquet``, or one line saying which extra installs it."""
    try:
        import pyarrow.parquet as parquet
    except ImportError:
        raise HarnessError(
            "Parquet needs pyarrow: pip install 'ner-harness[scale]' (make setup installs it)"
        ) from None
    return parquet


def estimated_rows(source: InputFile) -> int | None:
    """About how many rows an input holds (for the progress bar's ETA), cheaply: the
    Parquet footer, or the newlines of a text file; ``None`` when unknown."""
    try:
        if source.format == "parquet":
            return int(parquet_module().ParquetFile(source.path).metadata.num_rows)
        if source.format in ("jsonl", "csv", "tsv") and not source.gzipped:
            lines = 0
            with open(source.path, "rb") as handle:
                while block := handle.read(1 << 20):
                    lines += block.count(b"\n")
            return max(lines - (source.format != "jsonl"), 0)
    except Exception:  # an estimate: a file that cannot be read fails when it is read
        return None
    return None
