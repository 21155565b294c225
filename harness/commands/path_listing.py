"""Each registered system's inference paths, as ``predict --help``, ``bench --help`` and
``harness systems NAME`` show them: read from the systems' declarations, so the help
never disagrees with what ``--engine``/``--precision`` accept."""

from __future__ import annotations

import click

from core.inference_paths import BASELINE, describe
from core.system import System
from harness import registry


def auto_order(system: type[System]) -> str:
    """``openvino bf16 > bf16 > ...``: the paths ``auto`` tries, first that runs wins."""
    return " > ".join(str(p.path) for p in system.auto_preferences) or str(BASELINE)


def path_rows() -> list[tuple[str, str]]:
    """(system, its paths and its auto order) for every system that imports."""
    rows = []
    for name in registry.available():
        try:
            system = registry.get(name)
        except Exception:  # a broken plugin (any error at import) must not hide the others
            continue
        own = f"{describe(system.inference_paths)}; auto: {auto_order(system)}"
        rows.append((name, system.paths_note or own))
    return rows


class ListsInferencePaths(click.Command):
    """A command whose ``--help`` ends with every system's inference paths (the systems
    are imported only when the help is shown)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_epilog(ctx, formatter)
        with formatter.section("Inference paths per system (engine precisions; auto's order)"):
            formatter.write_dl(path_rows())
