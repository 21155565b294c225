"""Options and helpers shared by several sub-commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from core.corpus import Corpus, load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.tweets import EVALUATED_TYPES
from submissions import Reference, load_reference

DATA_HELP = (
    "Corpus to use: 'sample' (the invented corpus shipped with the harness, default), "
    "'profner' (the official ProfNER zip, downloaded once from Zenodo into "
    "~/.cache/ner-harness and checksum-verified), or a path to a ProfNER-style zip or folder."
)


def run_corpus(run: Path) -> str | None:
    """The corpus a run folder was trained on (its config.json), if recorded."""
    config = run / "config.json"
    if not config.is_file():
        return None
    try:
        recorded = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HarnessError(f"{config}: cannot read the run's config ({err})") from None
    corpus = recorded.get("corpus") if isinstance(recorded, dict) else None
    return corpus if isinstance(corpus, str) and corpus else None


def data_option(default: str | None = "sample"):
    return click.option("--data", "data", default=default, show_default=True, help=DATA_HELP)


def path_option(flag: str, dest: str | None = None, *, required: bool = False, help: str):
    """An option naming a file or folder (``--out``, ``--config``, ``--json`` ...)."""
    names = (flag, dest) if dest else (flag,)
    return click.option(
        *names, type=click.Path(path_type=Path), default=None, required=required, help=help
    )


def choice_option(
    flag: str,
    choices: Sequence[str],
    *,
    dest: str | None = None,
    default: str | None = None,
    multiple: bool = False,
    help: str,
):
    """An option taking one of ``choices`` (repeatable with ``multiple``)."""
    names = (flag, dest) if dest else (flag,)
    return click.option(
        *names,
        type=click.Choice(list(choices)),
        default=default,
        show_default=default is not None,
        multiple=multiple,
        help=help,
    )


def system_options_option(help: str):
    """``-o NAME=VALUE``, repeatable: a system option (``harness systems NAME`` lists them)."""
    return click.option("-o", "--option", "options", multiple=True, metavar="NAME=VALUE", help=help)


def progress_option(help: str | None = None):
    return click.option("--progress/--no-progress", default=True, show_default=True, help=help)


all_types_option = click.option(
    "--all-types",
    is_flag=True,
    help="Keep all entity classes of the gold (ProfNER also has ACTIVIDAD and FIGURATIVA); "
    "by default only the evaluated PROFESION and SITUACION_LABORAL are kept.",
)


def open_corpus(data: str, all_types: bool = False) -> Corpus:
    """Resolve ``--data`` and read the corpus with the requested type filter."""
    return load_corpus(resolve(data), types=None if all_types else EVALUATED_TYPES)


#: What GOLD may be, for ``harness score`` and ``harness validate --gold`` alike.
GOLD_HELP = (
    "a ProfNER corpus (zip or folder, or 'sample' / 'profner' as for --data elsewhere; "
    "--split picks the split) or a folder or zip of gold TSVs in the submission format "
    "(then the tweets are those of the 7a gold, or those listed in the 7b gold, and "
    "--split is not used)"
)


def document_gold(func: Callable[..., None]) -> Callable[..., None]:
    """Put :data:`GOLD_HELP` where a command's docstring says ``{gold}`` (apply it below
    ``@click.command``), so score and validate describe GOLD in the same words."""
    func.__doc__ = (func.__doc__ or "").replace("{gold}", GOLD_HELP)
    return func


def open_gold(gold: Path, split: str) -> Reference:
    """Read GOLD for ``score`` and ``validate``: one loader, so both accept the same forms.

    An existing path wins over the names 'sample' and 'profner' (a folder of gold TSVs
    called ``sample`` is what the user means); other values resolve as ``--data`` does.
    """
    return load_reference(gold if gold.exists() else resolve(str(gold)), split)
