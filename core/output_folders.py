"""Output folders that no mistake can destroy: what ``--out`` and ``--force`` may replace.

``harness run`` and ``harness predict`` build their output folder under a temporary name
and put it in place whole (:func:`core.fileio.atomic_directory`). Replacing an existing
folder is what can destroy a user's work: ``--out . --force`` once emptied the current
folder, and ``--out CORPUS --force`` replaced the corpus being read. So an existing folder
with anything in it is replaced only with ``--force``, and only when a harness command
made it (its marker file says so) and it neither is nor holds the current folder, the
home folder, or an input of the command (the corpus, the model being read).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.errors import HarnessError
from core.fileio import atomic_directory, atomic_write_text

#: written into every output folder a harness command makes; ``--force`` replaces only those
MARKER = ".harness-output"


def mark(folder: Path, command: str) -> None:
    """Record in ``folder`` that ``command`` made it (so ``--force`` may replace it)."""
    atomic_write_text(folder / MARKER, json.dumps({"made_by": f"harness {command}"}) + "\n")


def _holds(folder: Path, other: Path) -> bool:
    """Whether ``other`` is ``folder`` or lies inside it (both resolved)."""
    return other == folder or folder in other.parents


def check_output_folder(
    out: Path, *, force: bool, inputs: Iterable[Path] = (), option: str = "--out"
) -> None:
    """Stop with one line unless ``out`` may be written: it does not exist, is an empty
    folder, or (with ``force``) is a folder a harness command made that holds nothing
    precious. ``inputs`` are the paths the command reads."""
    if out.is_symlink():
        raise HarnessError(f"{option} {out}: is a symbolic link; give the folder itself")
    if not out.exists():
        for parent in out.parents:
            if parent.exists() and not parent.is_dir():
                raise HarnessError(f"{option} {out}: {parent} is a file, not a folder")
        return
    if _holds(out.resolve(), Path.cwd().resolve()):  # even empty: it cannot be swapped
        raise HarnessError(
            f"{option} {out}: is the current folder or holds it; name a folder inside it"
        )
    if not out.is_dir():
        raise HarnessError(f"{option} {out}: exists and is not a folder")
    try:
        empty = not any(out.iterdir())
    except OSError as err:
        raise HarnessError(f"{option} {out}: cannot list it ({err.strerror})") from None
    if empty:
        return
    if not force:
        raise HarnessError(f"{option} {out}: exists and is not empty (use --force to replace it)")
    refuse_precious(out, inputs, option)
    if not (out / MARKER).is_file():
        raise HarnessError(
            f"{option} {out}: was not made by a harness command (no {MARKER} in it); "
            "--force replaces only those"
        )


def refuse_precious(out: Path, inputs: Iterable[Path] = (), option: str = "--out") -> None:
    """Stop with one line when replacing ``out`` would take the current folder, the home
    folder or one of ``inputs`` with it, whatever made ``out``."""
    target = out.resolve()
    if _holds(target, Path.cwd().resolve()):
        raise HarnessError(f"{option} {out}: is the current folder or holds it; not replaced")
    if _holds(target, Path(os.path.expanduser("~")).resolve()):
        raise HarnessError(f"{option} {out}: is the home folder or holds it; not replaced")
    for path in inputs:
        if _holds(target, Path(path).resolve()):
            raise HarnessError(
                f"{option} {out}: holds {path}, which this command reads; not replaced"
            )


@contextmanager
def output_folder(
    out: Path, command: str, *, force: bool, inputs: Iterable[Path] = ()
) -> Iterator[Path]:
    """The folder ``harness COMMAND`` fills for ``out``: the rule of
    :func:`check_output_folder` checked at once and again under the folder's lock before
    the swap (:func:`core.fileio.atomic_directory`), and the marker written in it."""
    inputs = list(inputs)

    def check() -> None:
        check_output_folder(out, force=force, inputs=inputs)

    check()  # before anything is made beside it
    with atomic_directory(out, check) as work:
        mark(work, command)
        yield work
