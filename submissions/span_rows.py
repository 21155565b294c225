"""Predictions at corpus scale as rows: JSON Lines or Parquet part files.

One row per predicted span -- ``id, label, begin, end, type, text`` (``text`` being the
mention) -- and, for a tweet without any, one row whose span fields are null. So every
predicted tweet is in the output with its 7a label (a count of tweets, a join back to
the input, or the submission files can be made from the output alone), and
``rows.dropna(subset=["type"])`` leaves the mentions.

Both formats are folders of part files (``part-000000.jsonl`` ...), the layout Ray Data
writes too, so the output of one process and of a cluster read the same way (pandas,
pyarrow, DuckDB and Spark read such a folder of Parquet files as one table).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from core.errors import HarnessError, first_line
from core.fileio import atomic_output, atomic_write_bytes
from core.tweet_sources import parquet_module
from core.tweets import Prediction, Span, Tweet

COLUMNS = ("id", "label", "begin", "end", "type", "text")
FORMATS = ("jsonl", "parquet")
#: the folder of the output that holds the part files
SPANS_FOLDER = "spans"


def span_rows(predictions: Sequence[Prediction], tweets: Sequence[Tweet]) -> list[dict[str, Any]]:
    """The output rows of ``predictions`` (in the tweets' order, spans by offset)."""
    rows: list[dict[str, Any]] = []
    for prediction, tweet in zip(predictions, tweets, strict=True):
        if not prediction.spans:
            rows.append(dict.fromkeys(COLUMNS) | {"id": tweet.id, "label": prediction.label})
        for span in prediction.spans:
            rows.append(
                {
                    "id": tweet.id,
                    "label": prediction.label,
                    "begin": span.begin,
                    "end": span.end,
                    "type": span.type,
                    "text": tweet.mention(span),
                }
            )
    return rows


def predictions_from_rows(rows: Iterable[dict[str, Any]]) -> list[Prediction]:
    """The predictions that :func:`span_rows` wrote, in the rows' tweet order."""
    order: list[str] = []
    labels: dict[str, int] = {}
    spans: dict[str, list[Span]] = {}
    for row in rows:
        tweet_id = row["id"]
        if tweet_id not in labels:
            order.append(tweet_id)
            labels[tweet_id] = int(row["label"])
            spans[tweet_id] = []
        if row["type"] is not None:
            spans[tweet_id].append(Span(int(row["begin"]), int(row["end"]), row["type"]))
    return [Prediction(t, labels[t], tuple(spans[t])) for t in order]


def arrow_schema() -> Any:
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("label", pa.int8()),
            ("begin", pa.int32()),
            ("end", pa.int32()),
            ("type", pa.string()),
            ("text", pa.string()),
        ]
    )


def arrow_table(rows: Sequence[dict[str, Any]]) -> Any:
    """The rows as a pyarrow table with the output's fixed schema (nulls typed)."""
    parquet_module()  # one line, not a traceback, when pyarrow is missing
    import pyarrow as pa

    return pa.Table.from_pylist(list(rows), schema=arrow_schema())


def jsonl_bytes(rows: Iterable[dict[str, Any]]) -> bytes:
    """JSON Lines, one object per row, keys in :data:`COLUMNS` order, UTF-8 as is."""
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode("utf-8")


def write_part(path: Path, rows: Sequence[dict[str, Any]], fmt: str) -> Path:
    """Write one part file atomically: a killed run leaves it whole or absent."""
    if fmt == "jsonl":
        return atomic_write_bytes(path, jsonl_bytes(rows))
    table = arrow_table(rows)
    with atomic_output(path) as tmp:
        parquet_module().write_table(table, tmp)
    return path


def part_name(index: int, fmt: str) -> str:
    return f"part-{index:06d}.{fmt}"


def read_part(path: Path) -> list[dict[str, Any]]:
    """The rows of one part file (either format, by its ending)."""
    try:
        if path.suffix == ".parquet":
            return [
                {key: row[key] for key in COLUMNS}
                for row in parquet_module().read_table(path).to_pylist()
            ]
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except HarnessError:
        raise
    except Exception as err:  # a part file damaged by hand, or by a full disk
        raise HarnessError(f"{path}: cannot read this part file ({first_line(err)})") from None


def part_files(folder: Path) -> list[Path]:
    """The part files of an output folder, in name order (hidden temporaries left out)."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lstrip(".") in FORMATS
    )


def read_rows(folder: Path) -> Iterator[dict[str, Any]]:
    """Every row of an output folder, one part file in memory at a time."""
    for path in part_files(folder):
        yield from read_part(path)
