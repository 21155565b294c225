"""Prediction over collections of any size on one machine: streamed, chunked, restartable.

``harness predict MODEL --input ... --out DIR`` reads the input one row at a time,
gathers good rows into chunks of ``--chunk-size`` tweets, predicts each chunk and writes
it as one part file, atomically. Memory is one chunk and its output, whatever the size
of the input (ids are checked for duplicates on disk, :class:`core.row_checks.SeenIds`).

A chunk is the k-th run of ``chunk_size`` good rows in reading order, so a rerun of the
same job (same model files, same inputs, same options: ``job.json``) reads the input
again, finds the same chunks, and predicts only those whose part file is missing: a run
killed at any moment resumes where it was and ends with the files an uninterrupted run
writes. Another job's folder is never resumed or overwritten without ``--force``.

The output folder::

    job.json          what was asked (the restart key)
    spans/            part-000000.jsonl ... (or .parquet): the rows of submissions.span_rows
    bad_rows.jsonl    every row not predicted: where (FILE:LINE), id, kind, reason
    summary.json      counts, spans per type, seconds, tweets/s (written last)
    submission/       task7a.tsv, task7b.tsv, the CodaLab zips, brat.zip (--submission)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.errors import HarnessError
from core.fileio import atomic_write_text, folder_lock, read_json_object
from core.output_folders import MARKER, check_output_folder, mark
from core.row_checks import BadRow, RowChecker, SeenIds
from core.system import System
from core.tweet_sources import MAX_TEXT_CHARS, Fields, InputFile, estimated_rows, read_rows
from core.tweets import Prediction, Tweet
from harness.runner import check_predictions
from submissions.span_rows import (
    SPANS_FOLDER,
    part_name,
    predictions_from_rows,
    read_part,
    span_rows,
    write_part,
)
from submissions.writer import write_submission

JOB_FILE = "job.json"
SUMMARY_FILE = "summary.json"
BAD_ROWS_FILE = "bad_rows.jsonl"
SUBMISSION_FOLDER = "submission"
WORK_FOLDER = ".work"
ON_BAD_ROW = ("skip", "fail")


@dataclass(frozen=True)
class PredictionJob:
    """What ``harness predict --input`` was asked to do; equal jobs resume each other."""

    model: Path
    inputs: tuple[InputFile, ...]
    fields: Fields = field(default_factory=Fields)
    split: str = "test"
    format: str = "jsonl"
    chunk_size: int = 5000
    on_bad_row: str = "skip"
    precision: str = "fp32"
    engine: str = "torch"
    submission: bool = False
    max_chars: int = MAX_TEXT_CHARS

    def identity(self) -> dict[str, Any]:
        """The restart key: the model's files, each input's size and time, the options
        that change the output (chunking included: it decides the part files)."""
        return {
            "model": str(self.model.resolve()),
            "model_files": model_fingerprint(self.model),
            "inputs": [source.fingerprint() for source in self.inputs],
            "formats": [source.format for source in self.inputs],
            "fields": asdict(self.fields),
            "split": self.split,
            "format": self.format,
            "chunk_size": self.chunk_size,
            "on_bad_row": self.on_bad_row,
            "precision": self.precision,
            "engine": self.engine,
            "submission": self.submission,
            "max_chars": self.max_chars,
        }


def model_fingerprint(folder: Path) -> str:
    """A digest of the model folder's file names, sizes and times."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


@dataclass
class Summary:
    """What a job did; ``summary.json`` and the closing lines say it."""

    tweets: int = 0
    positive_tweets: int = 0
    spans: Counter[str] = field(default_factory=Counter)
    bad_rows: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    resumed_chunks: int = 0
    predicted_now: int = 0
    seconds: float = 0.0
    inference_path: str = ""
    mode: str = "one process"

    def add(self, rows: Sequence[dict[str, Any]], tweets: int) -> None:
        self.tweets += tweets
        self.positive_tweets += len({row["id"] for row in rows if row["label"] == 1})
        self.spans.update(row["type"] for row in rows if row["type"] is not None)

    def as_dict(self) -> dict[str, Any]:
        rate = self.predicted_now / self.seconds if self.seconds > 0 else None
        return {
            "tweets": self.tweets,
            "positive_tweets": self.positive_tweets,
            "spans": dict(sorted(self.spans.items())),
            "bad_rows": sum(self.bad_rows.values()),
            "bad_rows_by_kind": dict(sorted(self.bad_rows.items())),
            "chunks": self.chunks,
            "resumed_chunks": self.resumed_chunks,
            "predicted_now": self.predicted_now,
            "seconds": round(self.seconds, 3),
            "tweets_per_second": None if rate is None else round(rate, 1),
            "inference_path": self.inference_path,
            "mode": self.mode,
        }

    def lines(self) -> list[str]:
        spans = ", ".join(f"{n} {t}" for t, n in sorted(self.spans.items())) or "no spans"
        rate = self.predicted_now / self.seconds if self.seconds > 0 else 0.0
        resumed = f", {self.resumed_chunks} of {self.chunks} chunks already done" * bool(
            self.resumed_chunks
        )
        bad = ", ".join(f"{n} {kind}" for kind, n in sorted(self.bad_rows.items()))
        return [
            f"{self.tweets} tweets predicted ({self.positive_tweets} with an occupation): {spans}",
            f"{self.predicted_now} tweets in {self.seconds:.1f} s, {rate:.1f} tweets/s "
            f"({self.mode}, {self.inference_path}{resumed})",
            f"{sum(self.bad_rows.values())} bad rows skipped" + (f" ({bad})" if bad else ""),
        ]


# -- the output folder -----------------------------------------------------------------------


def open_job_folder(out: Path, job: PredictionJob, *, force: bool, resumable: bool = True) -> bool:
    """Make ``out`` ready for ``job``; True when it resumes the same job's folder.

    A folder of the same job is resumed (that is the restart); one of another job, or
    anything else, is replaced only under the rules of ``--force``
    (:func:`core.output_folders.check_output_folder`).
    """
    identity = job.identity()
    inputs = [job.model, *(source.path for source in job.inputs)]
    job_file = out / JOB_FILE
    if resumable and out.is_dir() and (out / MARKER).is_file() and job_file.is_file():
        before = read_json_object(job_file, "job file")
        if before == identity:
            return True
        if not force:
            changed = next(k for k in identity if before.get(k) != identity[k])
            raise HarnessError(
                f"--out {out}: holds the output of another job ({changed} differs); "
                "give another --out, or --force to start over"
            )
    check_output_folder(out, force=force, inputs=inputs)  # --force's rules, precious inputs
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise HarnessError(f"--out {out}: cannot make it ({err.strerror})") from None
    mark(out, "predict")
    atomic_write_text(job_file, json.dumps(identity, indent=2) + "\n")
    return False


# -- the job ---------------------------------------------------------------------------------


class _BadRowLog:
    """Bad rows streamed to a work file, put in place at the end (or on failure)."""

    def __init__(self, out: Path):
        self.final = out / BAD_ROWS_FILE
        self.partial = out / WORK_FOLDER / f"{BAD_ROWS_FILE}.partial"
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.partial, "w", encoding="utf-8")  # noqa: SIM115

    def add(self, bad: BadRow) -> None:
        self._handle.write(json.dumps(bad.as_dict(), ensure_ascii=False) + "\n")

    def finish(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self.partial, self.final)

    def abandon(self) -> None:
        self._handle.close()


def _chunks(
    job: PredictionJob, checker: RowChecker, log: _BadRowLog, summary: Summary, bar: tqdm
) -> Iterator[list[Tweet]]:
    """The job's tweets in chunks, in reading order; bad rows are logged as met."""
    chunk: list[Tweet] = []
    for source in job.inputs:
        for row in read_rows(source, job.fields, job.split):
            checked = checker.check(row)
            if isinstance(checked, BadRow):
                if job.on_bad_row == "fail":
                    raise stopped_by(checked)
                log.add(checked)
                summary.bad_rows[checked.kind] += 1
                bar.update(1)
                bar.set_postfix(bad=sum(summary.bad_rows.values()), refresh=False)
                continue
            chunk.append(checked)
            if len(chunk) == job.chunk_size:
                yield chunk
                chunk = []
    if chunk:
        yield chunk


def stopped_by(bad: BadRow) -> HarnessError:
    """The error that ends a job at its first bad row under ``--on-bad-row fail``."""
    return HarnessError(f"{bad.line()} (--on-bad-row skip counts such rows and goes on)")


def predict_chunk(system: System, chunk: Sequence[Tweet]) -> list[Prediction]:
    """Predictions for ``chunk`` in its order, the chunk given to the system by text
    length so that systems that batch their input pad little (the neural ones decode
    in length-sorted batches of the order they get)."""
    order = sorted(range(len(chunk)), key=lambda i: len(chunk[i].text))
    by_length = [chunk[i] for i in order]
    predictions = system.predict(by_length)
    check_predictions(predictions, by_length, system.name, system.config.types)
    placed: list[Prediction | None] = [None] * len(chunk)
    for i, prediction in zip(order, predictions, strict=True):
        placed[i] = prediction
    return [p for p in placed if p is not None]


def _done_part(path: Path, chunk: Sequence[Tweet], index: int) -> list[dict[str, Any]]:
    """The rows of a part file an earlier run wrote, checked to be this chunk's."""
    rows = read_part(path)
    ids = list(dict.fromkeys(row["id"] for row in rows))
    if ids != [tweet.id for tweet in chunk]:
        raise HarnessError(
            f"{path}: does not hold chunk {index} of this input (the input changed since "
            "it was written?); --force starts over"
        )
    return rows


def run_job(system: System, job: PredictionJob, out: Path, *, progress: bool = False) -> Summary:
    """Predict every good row of the job's inputs into ``out`` (see the module doc);
    the folder must come from :func:`open_job_folder`."""
    summary = Summary(inference_path=system.inference_path)
    spans_folder = out / SPANS_FOLDER
    spans_folder.mkdir(exist_ok=True)
    for leftover in spans_folder.glob(".part-*.tmp"):
        leftover.unlink(missing_ok=True)  # temporaries of a killed run
    (out / SUMMARY_FILE).unlink(missing_ok=True)  # present again only when complete
    totals = [estimated_rows(source) for source in job.inputs]
    total = None if None in totals else sum(t for t in totals if t is not None)
    kept: tuple[list[Prediction], list[Tweet]] = ([], [])
    started = time.perf_counter()
    log = _BadRowLog(out)
    try:
        with (
            folder_lock(out),
            SeenIds(out / WORK_FOLDER / "seen-ids.sqlite") as seen,
            tqdm(
                total=total, unit="tweet", disable=not progress, desc="predicting", smoothing=0.1
            ) as bar,
        ):
            checker = RowChecker(seen, job.max_chars)
            for index, chunk in enumerate(_chunks(job, checker, log, summary, bar)):
                part = spans_folder / part_name(index, job.format)
                if part.is_file():
                    rows = _done_part(part, chunk, index)
                    summary.resumed_chunks += 1
                    predictions = predictions_from_rows(rows) if job.submission else []
                else:
                    predictions = predict_chunk(system, chunk)
                    rows = span_rows(predictions, chunk)
                    write_part(part, rows, job.format)
                    summary.predicted_now += len(chunk)
                summary.chunks += 1
                summary.add(rows, len(chunk))
                if job.submission:
                    kept[0].extend(predictions)
                    kept[1].extend(chunk)
                bar.update(len(chunk))
    except BaseException:
        log.abandon()
        raise
    log.finish()
    if job.submission:
        write_submission(out / SUBMISSION_FOLDER, kept[0], {t.id: t.text for t in kept[1]})
    summary.seconds = time.perf_counter() - started
    finish(out, summary)
    return summary


def finish(out: Path, summary: Summary) -> None:
    """Write ``summary.json`` (last: its presence says the job is complete)."""
    shutil.rmtree(out / WORK_FOLDER, ignore_errors=True)
    atomic_write_text(out / SUMMARY_FILE, json.dumps(summary.as_dict(), indent=2) + "\n")
