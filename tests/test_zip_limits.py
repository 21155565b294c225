"""Zips an input can abuse: a bomb that expands a thousandfold, more than the documented
total, an encrypted member, a compression method Python cannot read. Each stops with one
line (exit 2, no traceback) before memory is spent; the limits can be raised."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.datasets import SAMPLE_CORPUS
from core.fileio import RATIO_VARIABLE, UNZIPPED_VARIABLE
from harness.cli import main

TWEET = "profner/txt-files/valid/910000000000000001.txt"


def corpus_zip(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    """The embedded sample corpus as a zip, with ``extra`` members added."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(SAMPLE_CORPUS.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(SAMPLE_CORPUS).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def patch_member(path: Path, name: str, *, flags: int = 0, method: int | None = None) -> None:
    """Set general-purpose flag bits or the compression method of ``name`` in both its
    local header and its central directory entry, as another zip tool would write them."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    local = info.header_offset
    central = next(
        i
        for i in range(len(data))
        if data[i : i + 4] == b"PK\x01\x02"
        and struct.unpack_from("<I", data, i + 42)[0] == info.header_offset
    )
    struct.pack_into("<H", data, local + 6, info.flag_bits | flags)
    struct.pack_into("<H", data, central + 8, info.flag_bits | flags)
    if method is not None:
        struct.pack_into("<H", data, local + 8, method)
        struct.pack_into("<H", data, central + 10, method)
    path.write_bytes(bytes(data))


def one_line_error(args: list[str], message: str, env: dict[str, str] | None = None) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), result.output
    assert message in lines[0], lines[0]


@pytest.fixture
def bomb(tmp_path) -> Path:
    """The sample corpus plus 64 MiB of zeros that compress to about 64 KB."""
    return corpus_zip(tmp_path / "bomb.zip", {"profner/junk.bin": bytes(64 << 20)})


def test_a_zip_bomb_is_refused_and_the_limit_can_be_raised(bomb):
    one_line_error(["data", str(bomb)], "profner/junk.bin: expands 1")
    one_line_error(["score", str(bomb), "sample"], "a zip bomb?")
    raised = CliRunner().invoke(main, ["--max-zip-ratio", "5000", "data", str(bomb)])
    assert raised.exit_code == 0, raised.output


def test_a_zip_beyond_the_total_is_refused(bomb):
    env = {RATIO_VARIABLE: "5000", UNZIPPED_VARIABLE: "16"}
    one_line_error(["data", str(bomb)], "expands to over 16 MiB", env)
    one_line_error(["--max-unzipped-mib", "8", "data", str(bomb)], "expands to over 8 MiB", env)
    one_line_error(["data", str(bomb)], "expected a positive number", {UNZIPPED_VARIABLE: "lots"})


def test_an_encrypted_member_is_one_line(tmp_path):
    path = corpus_zip(tmp_path / "c.zip")
    patch_member(path, TWEET, flags=0x1)
    one_line_error(["data", str(path)], f"{TWEET}: cannot read zip member")


def test_an_unknown_compression_method_is_one_line(tmp_path):
    path = corpus_zip(tmp_path / "c.zip")
    patch_member(path, TWEET, method=99)
    one_line_error(["data", str(path)], f"{TWEET}: unsupported zip member")


def test_a_bomb_cut_into_small_members_is_refused(tmp_path):
    small = {f"profner/junk/{i}.bin": bytes(1 << 20) for i in range(20)}  # 1 MiB each
    path = corpus_zip(tmp_path / "c.zip", small)
    one_line_error(["data", str(path)], "in all (limit 200; a zip bomb?)")


def test_the_limits_set_by_an_option_hold_for_that_command_alone(bomb):
    runner = CliRunner()
    assert runner.invoke(main, ["--max-zip-ratio", "5000", "data", str(bomb)]).exit_code == 0
    one_line_error(["data", str(bomb)], "a zip bomb?")  # the next command: limits as before
    one_line_error(["data", str(bomb)], "expected a positive number", {RATIO_VARIABLE: "nan"})
