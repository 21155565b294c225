"""The seed sweep after a study: the same configuration with K seeds, on train.

The paper took its best trial, "performed a quick sweep across several random seeds" and
retrained the best on train+valid (section 2.2.1). A neural system's valid F1 moves by a
point or more with the seed alone, so the sweep says how much of a study's best score is
luck (mean and standard deviation) and which seed to keep. Every seed is an ordinary
``harness run`` folder; seeds already done in the sweep folder are reused, so an
interrupted sweep resumes. No Ray here: K runs in a row are what a sweep needs.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.errors import HarnessError
from harness.runner import RunSettings, run
from harness.tuning.results import write_json

SEEDS_FILE = "seeds.json"
BEST_SEED_CONFIG = "best_config.json"


@dataclass
class SeedResult:
    seed: int
    valid_7b_strict_f1: float
    valid_7a_f1: float | None
    run: str


def seed_list(count: int, first: int) -> list[int]:
    if count < 1:
        raise HarnessError(f"--seeds must be at least 1, got {count}")
    return list(range(first, first + count))


def run_seeds(
    base: RunSettings,
    seeds: Sequence[int],
    out: Path,
    *,
    progress: bool = True,
    on_seed: Callable[[SeedResult, bool], None] | None = None,
) -> dict[str, Any]:
    """Run ``base`` once per seed into ``out/seed-N``; write and return the sweep summary."""
    if base.train_on != "train":
        raise HarnessError("a seed sweep compares held-out valid scores: train on train only")
    out.mkdir(parents=True, exist_ok=True)
    found: list[SeedResult] = []
    for seed in seeds:
        folder = out / f"seed-{seed}"
        reused = (folder / "metrics.json").is_file()
        if not reused:
            run(RunSettings(**{**asdict(base), "seed": seed}), folder, progress=progress)
        result = read_seed(folder, seed)
        found.append(result)
        if on_seed is not None:
            on_seed(result, reused)
    summary = summarise(found)
    summary["system"] = base.system
    summary["options"] = base.options
    write_json(out / SEEDS_FILE, summary)
    best = summary["best_seed"]
    write_json(
        out / BEST_SEED_CONFIG,
        {"system": base.system, "seed": best, "options": base.options, "seed_sweep": str(out)},
    )
    return summary


def read_seed(folder: Path, seed: int) -> SeedResult:
    path = folder / "metrics.json"
    try:
        scores = json.loads(path.read_text(encoding="utf-8"))["scores"]["valid"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise HarnessError(f"{path}: no valid scores ({err})") from None
    return SeedResult(
        seed,
        float(scores["7b"]["strict"]["f1"]),
        float(scores["7a"]["f1"]) if "7a" in scores else None,
        str(folder),
    )


def summarise(found: Sequence[SeedResult]) -> dict[str, Any]:
    """Mean, sample standard deviation (0 for one seed) and the best seed of 7b strict F1."""
    values = [r.valid_7b_strict_f1 for r in found]
    best = max(found, key=lambda r: r.valid_7b_strict_f1)  # the first of equal scores
    return {
        "metric": "valid_7b_strict_f1",
        "seeds": [asdict(r) for r in found],
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "best_seed": best.seed,
    }
