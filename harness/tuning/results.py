"""What a finished study leaves: the trials CSV, the best configuration and a summary.

Kept apart from Ray: the driver turns Ray's results into :class:`Trial` records, and
everything here is plain Python on those, so the files are tested without a cluster.
A trial's status is one of *completed* (all its epochs), *stopped* (ASHA ended it early:
the scheduler records its decisions, see :mod:`.scheduler`), *cut* (ended early by the
study's time budget), *error* (it raised) or *unfinished* (pending or running when the
study was interrupted; a resume runs it again).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.fileio import atomic_write_text
from harness.tuning.trainable import PLANNED_EPOCHS

TRIALS_FILE = "trials.csv"
BEST_CONFIG_FILE = "best_config.json"
SUMMARY_FILE = "summary.json"
FIGURE_FILE = "hyperparameters.png"

COMPLETED, STOPPED, CUT, ERROR, UNFINISHED = "completed", "stopped", "cut", "error", "unfinished"


@dataclass
class Trial:
    """One trial as the study saw it: sampled options and its per-epoch reports."""

    number: int
    trial_id: str
    params: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    #: False for a trial still pending or running when the study was interrupted
    finished: bool = True
    #: ASHA stopped it before its last epoch
    stopped_by_asha: bool = False

    def status(self) -> str:
        if self.error is not None:
            return ERROR
        if not self.finished:
            return UNFINISHED
        if not self.history:
            return CUT  # ended without an error before its first report: the budget
        planned = self.history[-1].get(PLANNED_EPOCHS)
        if planned is not None and len(self.history) < int(planned):
            return STOPPED if self.stopped_by_asha else CUT
        return COMPLETED

    def best(self, key: str) -> tuple[float | None, int | None]:
        """The best value of ``key`` over the epochs and the epoch it came from."""
        values = [(r[key], r.get("epoch", i + 1)) for i, r in enumerate(self.history) if key in r]
        if not values:
            return None, None
        value, epoch = max(values, key=lambda ve: ve[0])  # the first of equal values
        return float(value), int(epoch)

    def last(self, key: str) -> float | None:
        values = [r[key] for r in self.history if key in r]
        return float(values[-1]) if values else None


def best_trial(trials: Sequence[Trial], key: str) -> Trial | None:
    """The trial with the highest value of ``key`` at any epoch (earliest on ties)."""
    scored = [t for t in trials if t.status() != ERROR and t.best(key)[0] is not None]
    if not scored:
        return None
    return max(scored, key=lambda t: (t.best(key)[0], -t.number))


def trials_csv(trials: Sequence[Trial], key: str, param_names: Sequence[str]) -> str:
    """One row per trial: status, epochs, best and last ``key``, seconds, options, error."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "trial",
            "trial_id",
            "status",
            "epochs",
            "planned_epochs",
            f"{key}_best",
            "best_epoch",
            f"{key}_last",
            "seconds",
            *param_names,
            "error",
        ]
    )
    for trial in trials:
        value, epoch = trial.best(key)
        planned = trial.history[-1].get(PLANNED_EPOCHS, "") if trial.history else ""
        writer.writerow(
            [
                trial.number,
                trial.trial_id,
                trial.status(),
                len(trial.history),
                planned,
                "" if value is None else f"{value:.6f}",
                "" if epoch is None else epoch,
                "" if (last := trial.last(key)) is None else f"{last:.6f}",
                f"{trial.seconds:.1f}",
                *(_cell(trial.params.get(name, "")) for name in param_names),
                trial.error or "",
            ]
        )
    return out.getvalue()


def _cell(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def best_config(
    system: str, seed: int, fixed: Mapping[str, Any], trial: Trial, key: str, study: Path
) -> dict[str, Any]:
    """The best trial as a ``harness run --config`` file (system, seed, options)."""
    value, epoch = trial.best(key)
    return {
        "system": system,
        "seed": seed,
        "options": {**fixed, **trial.params},
        "study": {
            "folder": str(study),
            "trial": trial.number,
            "trial_id": trial.trial_id,
            "metric": key,
            "value": value,
            "epoch": epoch,
            "status": trial.status(),
        },
    }


def summarise(trials: Sequence[Trial], key: str) -> dict[str, Any]:
    """Counts by status and the best trial, for ``summary.json`` and the console."""
    statuses = [t.status() for t in trials]
    best = best_trial(trials, key)
    summary: dict[str, Any] = {
        "metric": key,
        "trials": len(trials),
        "completed": statuses.count(COMPLETED),
        "stopped_early": statuses.count(STOPPED),
        "cut_by_time_budget": statuses.count(CUT),
        "errors": statuses.count(ERROR),
        "unfinished": statuses.count(UNFINISHED),
        "epochs_trained": sum(len(t.history) for t in trials),
        "trial_seconds": round(sum(t.seconds for t in trials), 1),
        "best": None,
    }
    if best is not None:
        value, epoch = best.best(key)
        summary["best"] = {
            "trial": best.number,
            "trial_id": best.trial_id,
            "value": value,
            "epoch": epoch,
            "params": best.params,
        }
    return summary


def write_json(path: Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
