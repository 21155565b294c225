"""A synthetic corpus of any size made from a corpus split's texts, for the scale figures.

    python -m benchmarks.synthetic_tweets --data profner --split valid --tweets 1000000 \
        --out /tmp/tweets-1m.jsonl

Tweet ``n`` gets the id ``syn-NNNNNNNNN`` and the text of a split tweet drawn by a
seeded shuffle of the split, repeated as often as needed: the texts, their lengths and
their entities are the real ones, so throughput is the real one. Nothing is stored in the
repository; the same arguments always write the same file (JSON Lines, CSV, TSV or
Parquet, by the name's ending).
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterator
from pathlib import Path

import click

from core.corpus import load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.fileio import atomic_output
from core.tweet_sources import format_of, parquet_module


def synthetic_rows(texts: list[str], tweets: int, seed: int) -> Iterator[tuple[str, str]]:
    """(id, text) for ``tweets`` tweets: passes over ``texts``, each in a new order."""
    rng = random.Random(seed)
    made = 0
    while made < tweets:
        order = list(range(len(texts)))
        rng.shuffle(order)
        for i in order[: tweets - made]:
            yield f"syn-{made:09d}", texts[i]
            made += 1


def write_rows(rows: Iterator[tuple[str, str]], path: Path) -> None:
    """Write the rows in the format ``path`` names, streaming and atomically."""
    fmt = format_of(path)
    with atomic_output(path) as tmp:
        if fmt == "parquet":
            import pyarrow as pa

            writer = None
            batch: list[tuple[str, str]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 100_000:
                    writer = _write_batch(pa, writer, tmp, batch)
                    batch = []
            writer = _write_batch(pa, writer, tmp, batch)
            writer.close()
            return
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            if fmt == "jsonl":
                for tweet_id, text in rows:
                    handle.write(json.dumps({"id": tweet_id, "text": text}, ensure_ascii=False))
                    handle.write("\n")
            else:
                quoting = {"delimiter": "\t", "quoting": csv.QUOTE_NONE} if fmt == "tsv" else {}
                writer = csv.writer(handle, lineterminator="\n", **quoting)
                writer.writerow(["id", "text"])
                writer.writerows(rows)


def _write_batch(pa, writer, path: Path, batch: list[tuple[str, str]]):
    table = pa.table({"id": [r[0] for r in batch], "text": [r[1] for r in batch]})
    if writer is None:
        writer = parquet_module().ParquetWriter(path, table.schema)
    writer.write_table(table)
    return writer


@click.command()
@click.option("--data", default="profner", show_default=True, help="Corpus the texts come from.")
@click.option("--split", default="valid", show_default=True)
@click.option("--tweets", type=click.IntRange(1), default=1_000_000, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help=".jsonl .csv .tsv .parquet"
)
def main(data: str, split: str, tweets: int, seed: int, out: Path) -> None:
    """Write a synthetic corpus of TWEETS tweets made from a split's texts."""
    if format_of(out) is None or out.name.endswith(".gz"):
        raise click.BadParameter("name it .jsonl, .csv, .tsv or .parquet", param_hint="--out")
    try:
        corpus = load_corpus(resolve(data), splits=[split])
    except HarnessError as err:
        raise click.ClickException(str(err)) from None
    texts = [tweet.text for tweet in corpus.split(split).tweets]
    write_rows(synthetic_rows(texts, tweets, seed), out)
    click.echo(f"{out}: {tweets} tweets from the {len(texts)} texts of {data}/{split}")


if __name__ == "__main__":
    main()
