"""ASHA that writes down which trials it stopped.

A trial that reported fewer epochs than it was configured for was ended by *someone*:
ASHA, the study's time budget, or Ctrl-C. Ray records none of this per trial, and the
paper's Figure 1 and the study report are about ASHA's decisions only, so the scheduler
itself keeps the list (``asha_stopped.json`` in the study folder; rewritten atomically,
and merged with what is there, so a resumed study keeps its earlier decisions).
Imports Ray: import this module only where Ray is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from core.fileio import atomic_write_text
from harness.tuning.trainable import PLANNED_EPOCHS

STOPPED_FILE = "asha_stopped.json"


class RecordingASHA(ASHAScheduler):
    """Ray's ASHA; every trial it stops before its last epoch is added to ``record``."""

    def __init__(self, record: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.record = record

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        decision = super().on_trial_result(tune_controller, trial, result)
        planned = result.get(PLANNED_EPOCHS)
        done = result.get(self._time_attr, 0)
        if decision == TrialScheduler.STOP and planned is not None and done < planned:
            stopped = read_stopped(Path(self.record))
            stopped.add(str(trial.trial_id))
            atomic_write_text(self.record, json.dumps(sorted(stopped), indent=1) + "\n")
        return decision


def read_stopped(path: Path) -> set[str]:
    """The trial ids ASHA stopped early (empty when it stopped none)."""
    try:
        return set(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return set()
