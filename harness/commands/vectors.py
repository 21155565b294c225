"""``harness vectors``: word vectors for the word-level taggers, made offline."""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from harness.commands.common import DATA_HELP, choice_option, open_corpus, path_option
from harness.word_vectors import coverage, split_words

OUT_HELP = "The word2vec text file to write (atomically); '-o vectors=FILE' loads it."


@click.group("vectors")
def command() -> None:
    """Make word vectors that 'harness run --system rnn -o vectors=FILE' loads.

    \b
      harness vectors distill multilingual-e5-small --corpus profner.zip --out e5.vec
      harness vectors train --corpus profner.zip --out fasttext.vec
    Both read the texts of every split of the corpus and none of its labels.
    """


def _corpus_option():
    return click.option("--corpus", default="sample", show_default=True, help=DATA_HELP)


@command.command("distill")
@click.argument("encoder")
@_corpus_option()
@path_option("--out", required=True, help=OUT_HELP)
@choice_option(
    "--method",
    ("contextual", "isolated"),
    default="contextual",
    help="contextual: mean of each word's states in its tweets; isolated: each word alone.",
)
@click.option(
    "--dim",
    type=int,
    default=300,
    show_default=True,
    help="PCA to this width; 0 keeps the encoder's.",
)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--progress/--no-progress", default=True, show_default=True)
def distill(
    encoder: str, corpus: str, out: Path, method: str, dim: int, batch_size: int, progress: bool
) -> None:
    """Distil static vectors for every word of CORPUS from an installed ENCODER
    (a name from 'harness encoders list', or a Hugging Face folder)."""
    from systems.neural.distill import distill_vectors

    words_by_split = split_words(open_corpus(corpus, False))
    started = time.perf_counter()
    everything = [ws for lists in words_by_split.values() for ws in lists]
    words, matrix = distill_vectors(
        encoder, everything, method=method, dim=dim, batch_size=batch_size, show_progress=progress
    )  # type: ignore[arg-type]
    _finish(out, words, matrix, words_by_split, started, f"distilled from {encoder} ({method})")


@command.command("train")
@_corpus_option()
@path_option("--out", required=True, help=OUT_HELP)
@click.option("--dim", type=int, default=300, show_default=True)
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--min-count", type=int, default=1, show_default=True)
@click.option("--seed", type=int, default=13, show_default=True)
def train(corpus: str, out: Path, dim: int, epochs: int, min_count: int, seed: int) -> None:
    """Train fastText skip-gram vectors (gensim, subword-aware) on CORPUS's texts."""
    from systems.fasttext_vectors import train_fasttext

    words_by_split = split_words(open_corpus(corpus, False))
    started = time.perf_counter()
    everything = [ws for lists in words_by_split.values() for ws in lists]
    words, matrix = train_fasttext(
        everything, dim=dim, epochs=epochs, min_count=min_count, seed=seed
    )
    _finish(out, words, matrix, words_by_split, started, f"fastText, {epochs} epochs")


def _finish(
    out: Path,
    words: list[str],
    matrix: np.ndarray,
    words_by_split: dict[str, list[list[str]]],
    started: float,
    how: str,
) -> None:
    from systems.neural.vectors import write_vectors

    write_vectors(out, words, matrix)
    seconds = time.perf_counter() - started
    click.echo(f"{out}: {len(words)} words x {matrix.shape[1]} dimensions, {how}, {seconds:.0f} s")
    for name, lists in words_by_split.items():
        click.echo(f"  {name}: covers {coverage(lists, words)}")
