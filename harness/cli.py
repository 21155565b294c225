"""The ``harness`` command line: one click group, one module per sub-command.

Every :class:`~core.errors.HarnessError` raised below a command becomes one line on
stderr (``harness: error: ...``) and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from core.errors import HarnessError
from core.fileio import MAX_UNZIPPED_MIB, MAX_ZIP_RATIO, RATIO_VARIABLE, UNZIPPED_VARIABLE
from harness import __version__

#: sub-command name -> module under harness.commands; imported only when used, so
#: ``harness score`` never pays for torch.
COMMANDS: dict[str, str] = {
    "data": "data",
    "systems": "systems",
    "run": "run",
    "predict": "predict",
    "score": "score",
    "validate": "validate",
    "bench": "bench",
    "tune": "tune",
    "seeds": "seeds",
    "encoders": "encoders",
    "vectors": "vectors",
    "errors": "errors",
    "ensemble": "ensemble",
}
#: the one-line help ``harness --help`` lists, so that listing imports no command module
#: (several import torch, and ``tune`` imports Ray); a test checks they match the modules
SUMMARIES: dict[str, str] = {
    "data": "Report per split: tweets, 7a positives, entities per type, overlaps, alignment.",
    "systems": "List the registered systems, or show one system's options.",
    "run": "Train a system, predict valid (and test), score, package.",
    "predict": "Predict a split with a saved model and write its submission files.",
    "score": "Score a ProfNER submission exactly as the official CodaLab scorer did.",
    "validate": "Check a submission against the tweets it is for, before uploading it.",
    "bench": "Time single predictions of saved models on the CPU (Table-4-style table).",
    "tune": "Search a system's hyperparameters (Ray Tune, TPE, ASHA).",
    "seeds": "Train one configuration with K seeds and compare their valid scores.",
    "encoders": "List or install the pretrained encoders known by name.",
    "vectors": "Make word vectors offline: distilled from an encoder, or fastText.",
    "errors": "Sort a run's 7b errors by kind and show them in their tweets.",
    "ensemble": "Combine run folders' predictions by span voting into a new run folder.",
}
#: sub-commands whose module needs an install extra, and that extra
EXTRAS: dict[str, str] = {"tune": "tune"}


class _Group(click.Group):
    """A lazy click group that turns user errors into one clear line and exit code 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUMMARIES[name]) for name in COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        try:
            module = importlib.import_module(f"harness.commands.{COMMANDS[cmd_name]}")
        except ModuleNotFoundError as err:
            if cmd_name not in EXTRAS:
                raise
            return _missing_extra(cmd_name, EXTRAS[cmd_name], err)
        return module.command

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        # the zip limits the group's options set last for this command alone
        saved = {name: os.environ.get(name) for name in (UNZIPPED_VARIABLE, RATIO_VARIABLE)}
        try:
            return super().invoke(ctx)
        except HarnessError as err:
            click.echo(f"harness: error: {err}", err=True)
            sys.exit(2)
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def _missing_extra(name: str, extra: str, err: ModuleNotFoundError) -> click.Command:
    """A stand-in for a sub-command whose optional dependencies are not installed: it
    is still listed, and running it says which extra to install."""

    def fail() -> None:
        raise HarnessError(
            f"harness {name} needs the '{extra}' extra: pip install 'ner-harness[{extra}]' ({err})"
        )

    return click.Command(
        name,
        callback=fail,
        help=f"(needs the '{extra}' extra)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
@click.option(
    "--max-unzipped-mib",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Refuse a zip (corpus, gold, submission) that expands beyond this many MiB "
    f"(default {MAX_UNZIPPED_MIB}; also {UNZIPPED_VARIABLE}).",
)
@click.option(
    "--max-zip-ratio",
    type=click.FloatRange(min=1),
    default=None,
    help=f"Refuse a zip member of over 1 MiB compressed more than this many times "
    f"(a zip bomb; default {MAX_ZIP_RATIO}; also {RATIO_VARIABLE}).",
)
def main(max_unzipped_mib: float | None, max_zip_ratio: float | None) -> None:
    """Train, score, package and benchmark NER systems for shared tasks.

    Built around ProfNER (SMM4H 2021 Task 7: professions in Spanish COVID-19 tweets):
    task 7a classifies tweets, task 7b finds PROFESION and SITUACION_LABORAL spans.

    \b
    Typical session:
      harness data profner.zip             # what is in the corpus
      harness systems                      # which systems can be trained
      harness run --system lookup          # train, predict, score, package
      harness score preds/ gold/           # score submission files exactly as CodaLab
      harness validate preds/ --gold gold/ # check a submission before uploading it
    """
    # the readers check the limits where they open a zip, deep below the commands
    if max_unzipped_mib is not None:
        os.environ[UNZIPPED_VARIABLE] = f"{max_unzipped_mib:g}"
    if max_zip_ratio is not None:
        os.environ[RATIO_VARIABLE] = f"{max_zip_ratio:g}"
