"""What this machine can run: its CPU's feature flags and the installed engine extras.

Every decision the harness takes by the CPU (bf16 autocast in training, the path
``--precision auto`` picks, which benchmark rows apply) reads the flags here and nowhere
else, so that one variable, ``HARNESS_CPU_FLAGS_OFF``, can make any CPU decide as
another kind would: the test suite uses it to run as an AVX2-only CPU on any machine.
"""

from __future__ import annotations

import fnmatch
import os
from importlib import metadata
from pathlib import Path

from core.errors import HarnessError

#: the flags of a CPU that computes bfloat16 natively
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
_VNNI_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")

#: whitespace-separated flag patterns (``fnmatch``) the harness treats as absent: the test
#: suite sets ``avx512* amx* avx_vnni*`` to take every decision an AVX2-only CPU takes, on
#: any CPU; a user can set it to keep the harness off a path the CPU has but should not use
MASK_VARIABLE = "HARNESS_CPU_FLAGS_OFF"

#: what the ``onnx`` install extra brings: the runtime, the format, the exporter's backend
ONNX_PACKAGES = ("onnxruntime", "onnx", "onnxscript")
#: what the ``openvino`` install extra brings: the runtime, and NNCF for its int8 weights
OPENVINO_PACKAGES = ("openvino", "nncf")
#: engine -> (install extra, the packages it must have brought)
ENGINE_EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "onnxruntime": ("onnx", ONNX_PACKAGES),
    "openvino": ("openvino", OPENVINO_PACKAGES),
}


def cpu_flags() -> set[str]:
    """The CPU's feature flags (``/proc/cpuinfo``) less those masked by
    ``HARNESS_CPU_FLAGS_OFF``; empty where they cannot be read."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    masks = os.environ.get(MASK_VARIABLE, "").split()
    return {flag for flag in flags if not any(fnmatch.fnmatchcase(flag, m) for m in masks)}


def masked_flags() -> str:
    """The ``HARNESS_CPU_FLAGS_OFF`` patterns in force, for captions ('' when none)."""
    return " ".join(os.environ.get(MASK_VARIABLE, "").split())


def cpu_supports_bf16() -> bool:
    """True when the CPU computes bfloat16 natively (emulated bf16 is slower than fp32)."""
    return bool(cpu_flags() & set(BF16_FLAGS))


def cpu_int8_kind() -> str:
    """``vnni`` where the CPU has int8 dot products (fbgemm and ONNX Runtime use them
    on their own), else ``avx2``: what an int8 path runs on, for messages."""
    return "vnni" if cpu_flags() & set(_VNNI_FLAGS) else "avx2"


def missing_packages(packages: tuple[str, ...]) -> list[str]:
    """Those of ``packages`` that are not installed (none imported)."""
    missing = []
    for name in packages:
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def missing_extra(engine: str) -> str | None:
    """Why ``engine`` cannot run here (its extra incomplete, with the install line), or
    None when it can; PyTorch itself is always there."""
    if engine not in ENGINE_EXTRAS:
        return None
    extra, packages = ENGINE_EXTRAS[engine]
    missing = missing_packages(packages)
    if not missing:
        return None
    return f"engine {engine} needs {', '.join(missing)}: pip install 'ner-harness[{extra}]'"


def require_engine(engine: str) -> None:
    """Stop with the install line when ``engine``'s install extra is incomplete."""
    reason = missing_extra(engine)
    if reason:
        raise HarnessError(reason)


def engine_available(engine: str) -> bool:
    """Whether ``--engine ENGINE`` can run here."""
    return missing_extra(engine) is None
