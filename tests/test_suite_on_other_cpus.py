"""The suite itself, run as on an AVX2-only CPU (an AMD EPYC Zen 3: no bf16, no VNNI, no
AMX), whatever CPU runs it.

Why: every test that depends on the CPU must skip by its flags, and a missing ``skipif``
shows only on the CPU kind it was not written on; CI runs on one kind at a time. The
harness reads the CPU's flags in one place (``core.machine.cpu_flags``), and
``HARNESS_CPU_FLAGS_OFF`` masks flags there, so a second pytest with the AVX2-only mask
takes every decision (paths, ``auto``, skips) that such a CPU takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from core import machine

ROOT = Path(__file__).resolve().parents[1]
#: the flags an AVX2-only CPU lacks, as patterns
AVX2_ONLY = "avx512* amx* avx_vnni*"


@pytest.mark.skipif(
    bool(os.environ.get(machine.MASK_VARIABLE)), reason="this is the masked run itself"
)
def test_the_suite_passes_on_a_cpu_without_bf16_vnni_or_amx(tmp_path):
    report = tmp_path / "masked.xml"
    env = {**os.environ, machine.MASK_VARIABLE: AVX2_ONLY}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "--tb=line",
            "--show-capture=no",
            f"--junitxml={report}",
            "tests",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, "\n".join(result.stdout.splitlines()[-40:])
    skipped = [
        case.attrib["name"]
        for case in ElementTree.parse(report).iter("testcase")
        if any("no native bf16" in (s.get("message") or "") for s in case.iter("skipped"))
    ]
    if machine.engine_available("openvino"):  # the mask reached the run: bf16 tests skipped
        assert "test_bf16_predicts_every_tweet" in skipped
        assert "test_the_bf16_file_stores_16_bit_weights" in skipped
