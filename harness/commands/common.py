"""Options and helpers shared by several sub-commands."""

from __future__ import annotations

import click

from core.corpus import Corpus, load_corpus
from core.datasets import resolve
from core.tweets import EVALUATED_TYPES

DATA_HELP = (
    "Corpus to use: 'sample' (the invented corpus shipped with the harness, default), "
    "'profner' (the official ProfNER zip, downloaded once from Zenodo into "
    "~/.cache/ner-harness and checksum-verified), or a path to a ProfNER-style zip or folder."
)


def data_option(default: str | None = "sample"):
    return click.option("--data", "data", default=default, show_default=True, help=DATA_HELP)


all_types_option = click.option(
    "--all-types",
    is_flag=True,
    help="Keep all entity classes of the gold (ProfNER also has ACTIVIDAD and FIGURATIVA); "
    "by default only the evaluated PROFESION and SITUACION_LABORAL are kept.",
)


def open_corpus(data: str, all_types: bool = False) -> Corpus:
    """Resolve ``--data`` and read the corpus with the requested type filter."""
    return load_corpus(resolve(data), types=None if all_types else EVALUATED_TYPES)
