"""Inference paths: which engine runs a saved model, at which precision.

Each system declares the paths it supports (``System.inference_paths``) and, in order of
preference, the ones ``--precision auto`` may pick with the reason each was measured best
(``System.auto_preferences``). Everything else is written once, here: checking a requested
path against the declaration, whether this machine can run it (native bf16, the engine's
install extra), and the ``auto`` rule -- the first preferred path this machine runs.
``harness bench``, ``harness predict --help`` and ``harness systems`` read the same
declarations, so none of them has to try a path to learn whether a system has it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.errors import HarnessError
from core.machine import BF16_FLAGS, cpu_flags, cpu_supports_bf16, missing_extra

#: CPU precisions: plain fp32, accuracy-preserving int8 (first encoder block,
#: down-projections and task heads stay fp32), int8 of every Linear layer, and bfloat16
#: on CPUs that compute it natively
PRECISIONS = ("fp32", "int8", "int8-full", "bf16")
#: the precisions benchmarks time by default (bf16 needs a CPU this project cannot assume)
TIMED_PRECISIONS = ("fp32", "int8", "int8-full")
#: the precision that lets the system choose: the fastest path that keeps F1 on this CPU
AUTO = "auto"
#: PyTorch itself; ONNX Runtime (the ``onnx`` extra); OpenVINO (the ``openvino`` extra)
ENGINES = ("torch", "onnxruntime", "openvino")


@dataclass(frozen=True)
class InferencePath:
    """One way of running prediction: an engine and a precision."""

    engine: str
    precision: str

    def __str__(self) -> str:
        return self.precision if self.engine == "torch" else f"{self.engine} {self.precision}"

    def obstacle(self) -> str | None:
        """Why this machine cannot run the path, or None when it can."""
        found = self.obstacles()
        return found[1] if found else None

    def obstacles(self) -> tuple[str, str] | None:
        """(in a few words, in full) why this machine cannot run the path, or None."""
        missing = missing_extra(self.engine)
        if missing:
            return f"{self.engine} not installed", missing
        if self.precision == "bf16" and not cpu_supports_bf16():
            flags = " or ".join(BF16_FLAGS)
            return "no native bf16", f"bf16: this CPU has no native bfloat16 ({flags}); use int8"
        return None


#: the path every system has and every machine runs: the baseline of every ratio
BASELINE = InferencePath("torch", "fp32")


@dataclass(frozen=True)
class Preference:
    """A path ``auto`` may pick, with why it is preferred (measured, in docs), and the
    CPU flags (any of them) it is preferred on only, where it won on those CPUs alone."""

    path: InferencePath
    why: str
    only_with: tuple[str, ...] = ()

    def passed_over(self) -> str | None:
        """Why ``auto`` does not take this path here, in a few words, or None."""
        obstacles = self.path.obstacles()
        if obstacles:
            return obstacles[0]
        if self.only_with and not cpu_flags() & set(self.only_with):
            return f"preferred with {' or '.join(self.only_with)} only"
        return None


def paths(**precisions_by_engine: str) -> tuple[InferencePath, ...]:
    """A declaration: ``paths(torch="fp32 int8", onnxruntime="fp32")``."""
    declared = []
    for engine, precisions in precisions_by_engine.items():
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}")
        for precision in precisions.split():
            if precision not in PRECISIONS:
                raise ValueError(f"unknown precision {precision!r}")
            declared.append(InferencePath(engine, precision))
    return tuple(declared)


def prefer(*choices: tuple[str, ...]) -> tuple[Preference, ...]:
    """``auto``'s order: ``prefer(("openvino", "bf16", "why"[, "flag ..."]), ...)``; the
    optional fourth item names the CPU flags the path is preferred with only."""
    preferences = []
    for engine, precision, why, *flags in choices:
        only_with = tuple(" ".join(flags).split())
        preferences.append(Preference(paths(**{engine: precision})[0], why, only_with))
    return tuple(preferences)


def describe(declared: Iterable[InferencePath]) -> str:
    """``torch fp32/int8; onnxruntime fp32``: a declaration in one line."""
    by_engine: dict[str, list[str]] = {}
    for path in declared:
        by_engine.setdefault(path.engine, []).append(path.precision)
    return "; ".join(f"{engine} {'/'.join(p)}" for engine, p in by_engine.items())


def choose_auto(preferences: Sequence[Preference]) -> tuple[InferencePath, str]:
    """The auto rule: the first preferred path this machine runs, with its reason and
    why the ones before it were passed over; fp32 PyTorch when none runs."""
    passed = []
    for preference in preferences:
        reason = preference.passed_over()
        if reason is None:
            note = f" (not {'; not '.join(passed)})" if passed else ""
            return preference.path, preference.why + note
        passed.append(f"{preference.path}: {reason}")
    return BASELINE, "no faster path runs here"


def choose(
    system: str,
    declared: Sequence[InferencePath],
    preferences: Sequence[Preference],
    precision: str,
    engine: str = "torch",
) -> tuple[InferencePath, str]:
    """The path ``--precision PRECISION --engine ENGINE`` means for ``system``, and why;
    a path the system does not declare or this machine cannot run is one clear error."""
    if engine not in ENGINES:
        raise HarnessError(f"unknown engine {engine!r} (use {', '.join(ENGINES)})")
    if precision == AUTO:
        if engine != "torch":
            raise HarnessError(f"precision auto picks the engine too: drop --engine {engine}")
        return choose_auto(preferences)
    if precision not in PRECISIONS:
        raise HarnessError(f"unknown precision {precision!r} (use {', '.join(PRECISIONS)})")
    path = InferencePath(engine, precision)
    if path not in declared:
        raise HarnessError(f"{system}: no {path} inference path (it has: {describe(declared)})")
    obstacle = path.obstacle()
    if obstacle:
        raise HarnessError(f"{system}: {obstacle}")
    return path, "asked for"


def runnable(declared: Sequence[InferencePath]) -> list[InferencePath]:
    """The declared paths this machine runs."""
    return [path for path in declared if path.obstacle() is None]
