"""The same prediction job on Ray Data: ``harness predict ... --ray [ADDRESS]``.

The pipeline:

1. ``read_binary_files`` hands each input file to a task that parses it with the very
   readers of one-process prediction (:func:`core.tweet_sources.read_stream`) and marks
   its bad rows with the same checks (:func:`core.row_checks.bad_row`): the same rows,
   the same ``FILE:LINE`` places and reasons.
2. Duplicate ids are found by a ``groupby("id").count()``; the rows of the ids counted
   more than once come to the driver, where the first good row of each in reading order
   (file, then line) wins, as in one process.
3. ``map_batches`` with a pool of actors (``--actors``, each ``--cpus-per-actor`` /
   ``--gpus-per-actor``) that load the model once each and predict batches of
   ``--chunk-size`` tweets, given to the system by text length.
4. The rows are written by Ray's writers as part files into ``DIR/spans/``, in the
   format of :mod:`submissions.span_rows`; bad rows, few, come back to the driver and go
   to ``DIR/bad_rows.jsonl``; ``summary.json`` is counted from the written files.

The model folder reaches the workers through Ray's object store: the driver packs it
into one tar archive, ``ray.put``s it, and each actor unpacks it into a temporary
folder on its own node. No shared file system is needed for the model, which is
usually trained or downloaded on the machine the command runs on. The inputs and
``--out`` are read and written by the workers themselves, so on a cluster they must be
paths every node sees (a shared file system), as with any Ray Data reader and writer.

Output rows come in no particular order (Ray runs batches where it can); span for span
they are those of a one-process run. A Ray run is not resumable: rerun it with --force.
"""

from __future__ import annotations

import io
import logging
import shutil
import tarfile
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

from core.errors import HarnessError, first_line
from core.fileio import atomic_write_bytes
from core.inference_paths import InferencePath
from core.row_checks import DUPLICATE, BadRow, bad_row, duplicate
from core.tweet_sources import CORPUS, Fields, InputFile, Row, read_stream
from core.tweets import Tweet
from harness.corpus_prediction import (
    BAD_ROWS_FILE,
    PredictionJob,
    Summary,
    finish,
    predict_chunk,
    stopped_by,
)
from harness.ray_cluster import ray_session
from submissions.span_rows import (
    SPANS_FOLDER,
    arrow_table,
    jsonl_bytes,
    part_files,
    read_part,
    span_rows,
)

#: the writers hold no CPU: the actors may hold them all, and a step waiting for one
#: would wait for ever (so the actors drop bad rows and duplicates themselves)
LIGHT: dict[str, Any] = {"num_cpus": 0}


def ray_data() -> Any:
    """``ray.data``, or one line saying which extra installs it."""
    try:
        import ray.data
    except ImportError:
        raise HarnessError(
            "--ray needs Ray Data: pip install 'ner-harness[scale]' (make setup installs it)"
        ) from None
    return ray.data


# -- the steps, as they run on the workers ---------------------------------------------------


class ParseFiles:
    """``flat_map`` step: the rows of one input file, each marked with its problem."""

    def __init__(self, sources: dict[str, tuple[int, str, str]], fields: Fields, max_chars: int):
        self.sources = sources  # absolute path -> (input index, format, name in reports)
        self.fields = fields
        self.max_chars = max_chars

    def __call__(self, item: dict[str, Any]) -> Any:
        path = str(item["path"])
        key = path if path in self.sources else "/" + path.lstrip("/")
        index, fmt, name = self.sources[key]
        source = InputFile(Path(key), fmt, name)
        for seq, row in enumerate(read_stream(io.BytesIO(item["bytes"]), source, self.fields)):
            bad = bad_row(row, self.max_chars)
            yield {
                "file": index,
                "seq": seq,
                "where": row.where,
                "id": row.id,
                "text": row.text,
                "kind": None if bad is None else bad.kind,
                "reason": None if bad is None else bad.reason,
            }


def rows_where(table: Any, good: bool, ids: Any = None) -> Any:
    """``map_batches`` step, vectorised: the good rows (or the bad), optionally only
    those of ``ids``."""
    import pyarrow.compute as pc

    kind = table.column("kind")
    keep = pc.is_null(kind) if good else pc.is_valid(kind)
    if ids is not None:
        keep = pc.and_(keep, pc.is_in(table.column("id"), value_set=ids))
    return table.filter(keep)


def counted_twice(table: Any) -> Any:
    """``map_batches`` step over ``groupby("id").count()``: the ids met more than once."""
    import pyarrow.compute as pc

    return table.filter(pc.greater(table.column("count()"), 1))


def duplicates_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The good rows of ids met more than once, less the first of each in reading
    order, marked as duplicates worded as one process words them."""
    first_at: dict[str, str] = {}
    marked = []
    for row in sorted(rows, key=lambda row: (row["file"], row["seq"])):
        if row["id"] not in first_at:
            first_at[row["id"]] = row["where"]
            continue
        reason = duplicate(Row(row["where"], row["id"], row["text"]), first_at[row["id"]]).reason
        marked.append(row | {"kind": DUPLICATE, "reason": reason})
    return marked


class Predictor:
    """``map_batches`` actor: loads the model once, then predicts batch after batch."""

    def __init__(
        self,
        packed_model: list[Any],
        precision: str,
        engine: str,
        threads: int,
        gpu: bool,
        duplicates: frozenset[tuple[int, int]],
    ):
        import ray
        import torch

        from harness import registry

        torch.set_num_threads(threads)
        self.folder = Path(tempfile.mkdtemp(prefix="harness-model-"))
        with tarfile.open(fileobj=io.BytesIO(ray.get(packed_model[0]))) as archive:
            archive.extractall(self.folder, filter="data")
        self.system = registry.load_saved(self.folder / "model").use_precision(precision, engine)
        if gpu and hasattr(self.system, "to"):
            self.system.to("cuda")
        self.duplicates = duplicates  # (file, seq) of the rows that lost to a first one

    def __call__(self, batch: Any) -> Any:
        import pyarrow.compute as pc

        batch = batch.filter(pc.is_null(batch.column("kind")))
        if self.duplicates:
            places = zip(
                batch.column("file").to_pylist(), batch.column("seq").to_pylist(), strict=True
            )
            batch = batch.filter([place not in self.duplicates for place in places])
        ids, texts = batch.column("id").to_pylist(), batch.column("text").to_pylist()
        tweets = [Tweet(id=i, text=t) for i, t in zip(ids, texts, strict=True)]
        return arrow_table(span_rows(predict_chunk(self.system, tweets), tweets))

    def __del__(self) -> None:
        shutil.rmtree(getattr(self, "folder", ""), ignore_errors=True)


def _jsonl_sink(path: str) -> Any:
    from ray.data.datasource import BlockBasedFileDatasink

    class JsonLinesSink(BlockBasedFileDatasink):
        """Part files in the one-process JSON Lines form (Ray's own writer goes through
        pandas, which turns a column of ints with nulls into floats)."""

        def __init__(self, path: str):
            super().__init__(path, file_format="jsonl")

        def write_block_to_file(self, block: Any, file: Any) -> None:
            file.write(jsonl_bytes(block.to_arrow().to_pylist()))

    return JsonLinesSink(path)


# -- the driver ------------------------------------------------------------------------------


def pack_model(folder: Path) -> bytes:
    """The model folder as one uncompressed tar (hard links, as an ensemble's, kept)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname="model")
    return buffer.getvalue()


def _harness_cause(err: BaseException) -> HarnessError | None:
    """The HarnessError a worker raised, inside the layers Ray wraps it in."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current) is HarnessError:  # not Ray's copy, whose text holds a traceback
            return current
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else current.__cause__
    return None


def predict_on_ray(
    job: PredictionJob,
    out: Path,
    *,
    address: str | None,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    progress: bool,
) -> Summary:
    """Run ``job`` on Ray Data into ``out`` (made by
    :func:`harness.corpus_prediction.open_job_folder`); see the module doc."""
    data = ray_data()
    from ray.data.context import ShuffleStrategy

    corpora = [source.name for source in job.inputs if source.format == CORPUS]
    if corpora:
        raise HarnessError(
            f"--ray reads JSON Lines, CSV, TSV and Parquet files; {corpora[0]} is a corpus "
            "(a split fits one process: leave out --ray)"
        )
    if job.submission:
        raise HarnessError("--submission needs one process (it writes every tweet's text)")
    started = time.perf_counter()
    try:
        with (
            ray_session(address, progress, option="--ray", quiet=not progress),
            warnings.catch_warnings(),
        ):
            # Ray Data's advice (expressions for filters, more blocks) is for its
            # developers, not for a user predicting tweets
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            context = data.DataContext.get_current()
            context.enable_progress_bars = progress
            if not progress:  # Ray Data warns once that bars are off: they were asked off
                from ray.util.debug import log_once

                log_once("ray_data_progress_manager_disabled")
            # the sort shuffle runs as tasks that end; the default hash shuffle keeps
            # aggregator actors, holding CPUs, that the predicting actors then wait for
            context.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
            logging.getLogger("ray.data").setLevel(logging.INFO if progress else logging.WARNING)
            summary = _pipeline(data, job, out, actors, cpus_per_actor, gpus_per_actor)
    except HarnessError:
        raise
    except Exception as err:
        cause = _harness_cause(err)
        if cause is not None:
            raise HarnessError(str(cause)) from None
        raise HarnessError(f"the Ray job failed ({first_line(err)})") from None
    summary.seconds = time.perf_counter() - started
    summary.predicted_now = summary.tweets
    summary.mode = f"Ray, {actors} actors"
    finish(out, summary)
    return summary


def _pipeline(
    data: Any, job: PredictionJob, out: Path, actors: int, cpus: float, gpus: float
) -> Summary:
    import ray

    sources = {
        str(source.path.resolve()): (i, source.format, source.name)
        for i, source in enumerate(job.inputs)
    }
    files = data.read_binary_files(list(sources), include_paths=True)
    # parsed once and kept (the object store spills to disk): every step below reads it
    rows = files.flat_map(ParseFiles(sources, job.fields, job.max_chars)).materialize()
    good = rows.map_batches(rows_where, fn_args=(True,), batch_format="pyarrow")
    # duplicates: ids counted by a (vectorised) groupby; only the rows of ids met more
    # than once come back to the driver, which is few rows in any real input
    counts = good.groupby("id").count()
    repeated = [
        row["id"] for row in counts.map_batches(counted_twice, batch_format="pyarrow").take_all()
    ]
    duplicates: list[dict[str, Any]] = []
    if repeated:
        import pyarrow as pa

        ids = pa.array(repeated, type=pa.string())
        again = rows.map_batches(rows_where, fn_args=(True, ids), batch_format="pyarrow")
        duplicates = duplicates_of(again.take_all())
    bad = rows.map_batches(rows_where, fn_args=(False,), batch_format="pyarrow").take_all()
    bad_rows = sorted([*bad, *duplicates], key=lambda row: (row["file"], row["seq"]))
    records = [BadRow(row["where"], row["id"], row["kind"], row["reason"]) for row in bad_rows]
    if records and job.on_bad_row == "fail":
        raise stopped_by(records[0])
    # as many blocks as batches, and at least one per actor
    blocks = max(-(-rows.count() // job.chunk_size), actors)
    rows = rows.repartition(blocks, shuffle=False).materialize()
    packed = [ray.put(pack_model(job.model))]
    threads = max(int(cpus), 1)
    spans = rows.map_batches(
        Predictor,
        fn_constructor_kwargs={
            "packed_model": packed,
            "precision": job.precision,
            "engine": job.engine,
            "threads": threads,
            "gpu": gpus > 0,
            "duplicates": frozenset((row["file"], row["seq"]) for row in duplicates),
        },
        batch_size=job.chunk_size,
        batch_format="pyarrow",
        compute=data.ActorPoolStrategy(size=actors),
        num_cpus=cpus,
        num_gpus=gpus or None,
        max_restarts=0,  # a failed actor fails the job with its error, never loops
    )
    target = str((out / SPANS_FOLDER).resolve())
    if job.format == "parquet":
        spans.write_parquet(target, ray_remote_args=LIGHT)
    else:
        spans.write_datasink(_jsonl_sink(target), ray_remote_args=LIGHT)
    atomic_write_bytes(out / BAD_ROWS_FILE, jsonl_bytes(record.as_dict() for record in records))
    path = str(InferencePath(job.engine, job.precision))
    summary = Summary(
        inference_path=f"{path}, each actor choosing" if job.precision == "auto" else path
    )
    summary.bad_rows = Counter(record.kind for record in records)
    for part in part_files(out / SPANS_FOLDER):
        part_rows = read_part(part)
        summary.add(part_rows, len({row["id"] for row in part_rows}))
        summary.chunks += 1
    return summary
