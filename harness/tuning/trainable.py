"""One trial: build the system from the sampled options, train it, report validation F1.

This runs inside a Ray worker process. The system *class* comes from the driver (shipped
with ``tune.with_parameters``), not from a registry lookup here, so a system registered
only in the driver's process (a plug-in, a test's) trains the same way. Neural systems
report after every epoch through ``NeuralSystem.epoch_callback``, which is what lets ASHA
stop a weak trial after its first epochs; systems without epochs report once at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.corpus import load_corpus
from core.seeding import seed_everything
from core.system import System, SystemConfig, config_from_dict
from core.tweets import EVALUATED_TYPES
from eval import score_predictions

#: ``--metric`` choices -> the key each trial reports (the keys of an epoch record).
METRICS: dict[str, str] = {
    "7b_strict_f1": "valid_7b_strict_f1",
    "7a_f1": "valid_7a_f1",
}
#: Reported with every result so the driver can tell a stopped trial from a finished one.
PLANNED_EPOCHS = "planned_epochs"


@dataclass(frozen=True)
class TrialJob:
    """What every trial of a study shares: the system, the data and the fixed options."""

    system_class: type[System]
    system: str
    corpus: str
    seed: int = 13
    all_types: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)
    #: CPUs the trial may use: PyTorch gets as many threads, no more (oversubscribed
    #: threads on a shared CPU slow every trial down many times over)
    cpus: float = 1.0


def trial_config(job: TrialJob, sampled: Mapping[str, Any], types: tuple[str, ...]) -> SystemConfig:
    """The system's config for sampled options; fixed options and the seed fill the rest."""
    values: dict[str, Any] = {**job.fixed, **{k: plain(v) for k, v in sampled.items()}}
    values.setdefault("seed", job.seed)
    values.setdefault("types", list(types))
    return config_from_dict(job.system_class.Config, values, where=f"system '{job.system}'")


def plain(value: Any) -> Any:
    """A JSON value for what a searcher sampled (hyperopt hands out NumPy scalars)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, list) else value


def train_trial(sampled: dict[str, Any], job: TrialJob) -> None:
    """Ray Tune's function trainable: one ``tune.report`` per epoch, or one at the end."""
    from ray import tune

    corpus = load_corpus(job.corpus, types=None if job.all_types else EVALUATED_TYPES)
    config = trial_config(job, sampled, corpus.types)
    seed_everything(config.seed)
    system = job.system_class(config)
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(max(1, int(job.cpus)))
    train = corpus.gold_split("train").tweets
    valid = corpus.gold_split("valid")
    planned = int(getattr(config, "epochs", 1)) if hasattr(system, "epoch_callback") else 1

    def report(record: Mapping[str, Any]) -> None:
        tune.report({**{k: plain(v) for k, v in record.items()}, PLANNED_EPOCHS: planned})

    if hasattr(system, "epoch_callback"):
        system.epoch_callback = report
    system.fit(train, valid.tweets)
    if not hasattr(system, "epoch_callback"):
        scores = score_predictions(system.predict(valid.tweets), valid).as_dict()
        record: dict[str, Any] = {"epoch": 1, "valid_7b_strict_f1": scores["7b"]["strict"]["f1"]}
        if "7a" in scores:
            record["valid_7a_f1"] = scores["7a"]["f1"]
        report(record)
