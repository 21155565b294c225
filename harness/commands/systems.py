"""``harness systems``: the registered systems and their options."""

from __future__ import annotations

import click

from core.errors import HarnessError
from core.inference_paths import describe
from core.system import describe_config
from harness import registry
from harness.commands.path_listing import auto_order


@click.command("systems")
@click.argument("name", required=False)
def command(name: str | None) -> None:
    """List the registered systems, or show one system's options.

    Systems come from this package and from any installed package that declares an
    entry point in the group 'harness.systems'. Options are passed to 'harness run' as
    '-o NAME=VALUE' or in a '--config' JSON file.
    """
    if name is None:
        names = registry.available()
        width = max(map(len, names), default=0)
        for system_name in names:
            try:
                cls = registry.get(system_name)
            except HarnessError as err:  # a broken plugin must not hide the others
                click.echo(f"{system_name:{width}s} (unavailable: {err})")
                continue
            seven_a = " [7a from spans]" if cls.labels_from_spans else ""
            click.echo(f"{system_name:{width}s} {cls.description}{seven_a}")
        return
    cls = registry.get(name)
    click.echo(f"{name}: {cls.description}")
    if cls.labels_from_spans:
        click.echo("7a: positive when the system predicts any span (no classifier of its own)")
    if cls.paths_note:
        click.echo(f"inference paths: {cls.paths_note}")
    else:
        click.echo(f"inference paths: {describe(cls.inference_paths)}")
        click.echo(f"--precision auto tries: {auto_order(cls)} (the first this machine runs)")
    if not cls.trainable:
        click.echo("(not trained by 'harness run'; its options are recorded by what makes it)")
    click.echo("\noptions (-o NAME=VALUE):")
    for option, kind, default in describe_config(cls.Config):
        shown = ",".join(default) if isinstance(default, tuple) else default
        click.echo(f"  {option:24s} {kind:10s} default: {shown}")
