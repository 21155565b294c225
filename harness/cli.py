"""The ``harness`` command line: one click group, one module per sub-command.

Every :class:`~harness.errors.HarnessError` raised below a command becomes one line on
stderr (``harness: error: ...``) and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from harness import __version__
from harness.errors import HarnessError

#: sub-command name -> module under harness.commands; imported only when used, so
#: ``harness score`` never pays for torch and ``--help`` is instant.
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
}


class _Group(click.Group):
    """A lazy click group that turns user errors into one clear line and exit code 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module = importlib.import_module(f"harness.commands.{COMMANDS[cmd_name]}")
        return module.command

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except HarnessError as err:
            click.echo(f"harness: error: {err}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="harness")
def main() -> None:
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
