"""``harness tune``'s engine: a Ray Tune study with TPE and ASHA, resumable, in one folder.

The paper ran 50 (transformer) and 200 (RNN) trials with hyperopt's tree-structured Parzen
estimator proposing options and ASHA ending weak trials early, both on valid 7b F1
(sections 2.2.1 and 2.3.1). This module sets that up on Ray Tune: locally by default, or
on a running Ray cluster given its address, so the same command scales out to many GPUs.

Everything a study writes stays in its folder::

    STUDY/study.json          the settings and search space (a resume must match them)
    STUDY/trials.csv          one row per trial: status, epochs, best/last F1, options
    STUDY/best_config.json    the best trial as a `harness run --config` file
    STUDY/hyperparameters.png each hyperparameter against valid F1 (the paper's Figure 1)
    STUDY/summary.json        counts, best trial, wall time
    STUDY/asha_stopped.json   the trials ASHA stopped early (its own record)
    STUDY/ray_tune/           Ray Tune's experiment: per-trial results, searcher state
    STUDY/ray-session/        Ray's own logs (local runs)

Running the same command again on an interrupted study resumes it (``Tuner.restore``):
finished trials are kept, unfinished ones start again (trials keep no checkpoints: a
trial is a few epochs, and retraining the best configuration is a separate step).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.corpus import load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.fileio import atomic_write_text
from core.output_folders import refuse_precious
from core.system import System, config_to_dict
from core.tweets import EVALUATED_TYPES
from harness import registry
from harness.ray_cluster import ray_session
from harness.tuning import results
from harness.tuning.figure import plot_study
from harness.tuning.scheduler import STOPPED_FILE, RecordingASHA, read_stopped
from harness.tuning.space import SearchSpace, default_space_path, load_space
from harness.tuning.trainable import (
    METRICS,
    PLANNED_EPOCHS,
    TrialJob,
    plain,
    train_trial,
    trial_config,
)

log = logging.getLogger("harness")

STUDY_FILE = "study.json"
RAY_RESULTS = "ray_tune"
RAY_SESSION = "ray-session"
SEARCHES = ("tpe", "random")
SCHEDULERS = ("asha", "none")
#: Per-epoch keys kept in a trial's history (besides the valid_* scores).
REPORTED = frozenset({"epoch", "train_loss", PLANNED_EPOCHS})
#: Settings that may change when a study is resumed (they do not change its trials).
RESUMABLE_CHANGES = ("address", "cpus_per_trial", "gpus_per_trial", "max_concurrent")


@dataclass
class StudySettings:
    """What ``harness tune`` was asked for; saved in ``study.json``."""

    system: str
    trials: int
    search: str = "tpe"
    scheduler: str = "asha"
    metric: str = "7b_strict_f1"
    data: str = "sample"
    seed: int = 13
    all_types: bool = False
    #: options fixed for every trial (``-o``); they override the search space
    options: dict[str, Any] = field(default_factory=dict)
    #: search-space file; None: the one shipped for the system
    space: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    #: at most this many trials at once (0: as many as the resources allow)
    max_concurrent: int = 0
    #: ASHA: epochs every trial gets before it can be stopped, and the rung factor
    grace_period: int = 1
    reduction_factor: float = 4.0
    #: TPE: random trials before the estimator models the results (None: 20 as in
    #: hyperopt and Ray, or half the trials in studies of fewer than 40)
    random_start: int | None = None
    #: a running Ray cluster (``HOST:PORT``, ``ray://HOST:PORT`` or ``auto``); None: local
    address: str | None = None
    #: stop the study after this many seconds (running trials are cut); None: no limit
    time_budget: float | None = None


@dataclass
class StudyPlan:
    """The settings checked and resolved against the system, before Ray starts."""

    settings: StudySettings
    system_class: type[System]
    space: SearchSpace
    fixed: dict[str, Any]
    corpus: Path
    metric_key: str
    scheduler: str
    max_epochs: int | None
    random_start: int


@dataclass
class StudyOutcome:
    folder: Path
    summary: dict[str, Any]
    resumed: bool


# -- planning (no Ray) -----------------------------------------------------------------------


def plan_study(settings: StudySettings) -> StudyPlan:
    """Check everything a user can get wrong before any process is started."""
    if settings.trials < 1:
        raise HarnessError(f"--trials must be at least 1, got {settings.trials}")
    if settings.search not in SEARCHES:
        raise HarnessError(f"--search must be one of {', '.join(SEARCHES)}")
    if settings.scheduler not in SCHEDULERS:
        raise HarnessError(f"--scheduler must be one of {', '.join(SCHEDULERS)}")
    if settings.metric not in METRICS:
        raise HarnessError(f"--metric must be one of {', '.join(METRICS)}, got {settings.metric!r}")
    if settings.cpus_per_trial <= 0 or settings.gpus_per_trial < 0:
        raise HarnessError("--cpus-per-trial must be > 0 and --gpus-per-trial >= 0")
    if settings.address is None and settings.cpus_per_trial > (os.cpu_count() or 1):
        raise HarnessError(
            f"--cpus-per-trial {settings.cpus_per_trial:g}: this machine has "
            f"{os.cpu_count()} CPUs (a trial would wait forever)"
        )
    if settings.time_budget is not None and settings.time_budget <= 0:
        raise HarnessError(f"--time-budget must be > 0 seconds, got {settings.time_budget:g}")
    if settings.grace_period < 1 or settings.reduction_factor <= 1:
        raise HarnessError("--grace-period must be >= 1 and --reduction-factor > 1")
    cls = registry.get(settings.system)
    space_path = settings.space or default_space_path(settings.system)
    space = load_space(space_path, cls.Config, settings.system).without(settings.options)
    if not space.parameters:
        raise HarnessError(f"{space_path}: every parameter is fixed by -o; nothing to tune")
    corpus_path = resolve(settings.data).resolve()
    corpus = load_corpus(corpus_path, types=None if settings.all_types else EVALUATED_TYPES)
    corpus.gold_split("train")
    corpus.gold_split("valid")  # the metric is validation F1
    # build one config from the fixed options and each parameter's first value: a wrong
    # -o value or an impossible combination fails here, not in every trial
    job = TrialJob(cls, settings.system, str(corpus_path), settings.seed, settings.all_types)
    fixed_values = {**space.fixed, **settings.options}
    probe = trial_config(
        dataclasses.replace(job, fixed=fixed_values),
        {name: p.args[0] for name, p in space.parameters.items()},
        corpus.types,
    )
    # an encoder "auto" is chosen once here, and every trial trains the same encoder
    for option, choice in cls(probe).settle().items():
        fixed_values[option] = choice["chosen"]
        log.info("%s=%s: %s (%s)", option, choice["requested"], choice["chosen"], choice["reason"])
    resolved = config_to_dict(probe)
    fixed = {name: resolved[name] for name in fixed_values}
    scheduler = settings.scheduler
    max_epochs = None
    if "epochs" in resolved:
        epochs = space.parameters.get("epochs")
        max_epochs = int(epochs.upper) if epochs is not None else int(resolved["epochs"])
    elif scheduler == "asha":
        scheduler = "none"  # no epochs, nothing to stop early: one report per trial
    random_start = settings.random_start
    if random_start is not None and random_start < 1:
        raise HarnessError(f"--random-start must be at least 1, got {random_start}")
    if random_start is None:
        random_start = 20 if settings.trials >= 40 else max(1, settings.trials // 2)
    return StudyPlan(
        settings,
        cls,
        space,
        fixed,
        corpus_path,
        METRICS[settings.metric],
        scheduler,
        max_epochs,
        random_start,
    )


def study_record(plan: StudyPlan) -> dict[str, Any]:
    """``study.json``: the settings, the effective space and what they resolved to."""
    return {
        "settings": asdict(plan.settings),
        "space": plan.space.as_json(),
        "space_file": plan.space.path,
        "fixed": plan.fixed,
        "corpus": str(plan.corpus),
        "metric_key": plan.metric_key,
        "scheduler": plan.scheduler,
        "max_epochs": plan.max_epochs,
        "random_start": plan.random_start,
    }


def check_resumable(folder: Path, record: dict[str, Any]) -> None:
    """Refuse to resume a study that was started with other settings."""
    import json

    try:
        previous = json.loads((folder / STUDY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise HarnessError(f"{folder / STUDY_FILE}: unreadable ({err}); use --force") from None

    # the space is compared by content (a moved file is the same space), resources not
    ignored = {*RESUMABLE_CHANGES, "space", "space_file", "settings"}

    def differences(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
        old, new = json.loads(json.dumps(old)), json.loads(json.dumps(new))
        return {k for k in old.keys() | new.keys() if k not in ignored and old.get(k) != new.get(k)}

    differ = sorted(
        differences(previous.get("settings", {}), record["settings"])
        | differences(previous, record)
        | ({"space"} if previous.get("space") != json.loads(json.dumps(record["space"])) else set())
    )
    if differ:
        raise HarnessError(
            f"{folder}: holds a study with other settings (differ: {', '.join(differ)}); "
            "resume it with the same ones, or use --force to start over or another --out"
        )


# -- running ---------------------------------------------------------------------------------


def run_study(
    settings: StudySettings, out: Path, *, force: bool = False, progress: bool = True
) -> StudyOutcome:
    """Run (or resume) a study into ``out`` and write its CSV, best config and figure."""
    plan = plan_study(settings)
    out = out.resolve()
    record = study_record(plan)
    experiment = out / RAY_RESULTS
    if force and (out / STUDY_FILE).exists():
        # only ever a study folder, and never one holding the current folder or an input
        refuse_precious(out, [plan.corpus, *([settings.space] if settings.space else [])])
        shutil.rmtree(out)
    resumed = (out / STUDY_FILE).exists()
    if resumed:
        check_resumable(out, record)
    elif out.exists() and any(out.iterdir()):
        raise HarnessError(f"{out}: exists and is not a study folder (use --force to replace)")
    out.mkdir(parents=True, exist_ok=True)
    results.write_json(out / STUDY_FILE, record)
    started = time.perf_counter()
    with ray_session(settings.address, progress, session=out / RAY_SESSION):
        from ray import tune

        trainable = tune.with_resources(
            tune.with_parameters(train_trial, job=_job(plan)),
            {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
        )
        if resumed and tune.Tuner.can_restore(str(experiment)):
            tuner = tune.Tuner.restore(
                str(experiment), trainable, resume_unfinished=True, resume_errored=False
            )
        else:
            resumed = False
            if experiment.exists():
                shutil.rmtree(experiment)  # started but never saved a state: start over
            tuner = _new_tuner(plan, trainable, out, progress)
        grid = tuner.fit()
        trials = collect_trials(grid, read_stopped_ids(out))
    wall = time.perf_counter() - started
    summary = write_outputs(plan, trials, out)
    summary["wall_seconds"] = round(wall, 1)
    summary["resumed"] = resumed
    budget_spent = settings.time_budget is not None and wall >= settings.time_budget
    summary["time_budget_spent"] = budget_spent
    summary["interrupted"] = summary["unfinished"] > 0 or (
        len(trials) < settings.trials and not budget_spent
    )
    results.write_json(out / results.SUMMARY_FILE, summary)
    if summary["interrupted"]:
        raise HarnessError(
            f"{out}: study interrupted after {len(trials) - summary['unfinished']} of "
            f"{settings.trials} trials (outputs so far written); run the same command to resume"
        )
    return StudyOutcome(out, summary, resumed)


def _job(plan: StudyPlan) -> TrialJob:
    s = plan.settings
    return TrialJob(
        plan.system_class,
        s.system,
        str(plan.corpus),
        s.seed,
        s.all_types,
        plan.fixed,
        s.cpus_per_trial,
    )


def _new_tuner(plan: StudyPlan, trainable: Any, out: Path, progress: bool) -> Any:
    from ray import tune

    s = plan.settings
    if s.search == "tpe":
        from ray.tune.search.hyperopt import HyperOptSearch

        search_alg: Any = HyperOptSearch(
            random_state_seed=s.seed, n_initial_points=plan.random_start
        )
    else:
        from ray.tune.search import BasicVariantGenerator

        # a SearchAlgorithm, not a Searcher: Ray ignores max_concurrent_trials for it
        search_alg = BasicVariantGenerator(random_state=s.seed, max_concurrent=s.max_concurrent)
    scheduler = None
    if plan.scheduler == "asha":
        scheduler = RecordingASHA(
            record=str(out / STOPPED_FILE),
            time_attr="training_iteration",
            max_t=plan.max_epochs or 1,
            grace_period=s.grace_period,
            reduction_factor=s.reduction_factor,
        )
    return tune.Tuner(
        trainable,
        param_space=plan.space.to_ray(),
        tune_config=tune.TuneConfig(
            metric=plan.metric_key,
            mode="max",
            num_samples=s.trials,
            search_alg=search_alg,
            scheduler=scheduler,
            max_concurrent_trials=(s.max_concurrent or None) if s.search == "tpe" else None,
            time_budget_s=s.time_budget,
            trial_dirname_creator=trial_dirname,
            # one worker process runs trial after trial: no re-import of torch per trial
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=RAY_RESULTS, storage_path=str(out), verbose=1 if progress else 0
        ),
    )


def trial_dirname(trial: Any) -> str:
    """``trial_0007_ID``: short (Ray's default lists every option) and in trial order."""
    index = str(getattr(trial, "experiment_tag", "")).split("_", 1)[0]
    return (
        f"trial_{int(index):04d}_{trial.trial_id}" if index.isdigit() else f"trial_{trial.trial_id}"
    )


# -- collecting and writing ------------------------------------------------------------------


def read_stopped_ids(out: Path) -> set[str]:

    return read_stopped(out / STOPPED_FILE)


def collect_trials(grid: Any, stopped_ids: set[str]) -> list[results.Trial]:
    """Ray's ResultGrid as :class:`results.Trial` records, in the order trials started.

    ``stopped_ids``: the trials ASHA stopped early (as :mod:`.scheduler` recorded them).
    """
    trials = []
    status = _trial_statuses(grid)
    # a restored study lists its results in another order: the folder names keep it
    ordered = sorted(grid, key=lambda result: Path(result.path).name)
    for number, result in enumerate(ordered, start=1):
        frame = result.metrics_dataframe
        history: dict[int, dict[str, Any]] = {}
        if frame is not None:
            for row in frame.to_dict("records"):
                clean = {
                    k: plain(v) for k, v in row.items() if k in REPORTED or k.startswith("valid_")
                }
                clean = {k: v for k, v in clean.items() if not _missing(v)}
                # a restarted trial reports its epochs again: the latest report wins
                history[int(clean.get("epoch", len(history) + 1))] = clean
        metrics = result.metrics or {}
        error = None
        if result.error is not None:
            lines = [line for line in str(result.error).splitlines() if line.strip()]
            error = (lines[-1].strip() if lines else type(result.error).__name__)[:300]
        trial_id = str(metrics.get("trial_id") or Path(result.path).name)
        trials.append(
            results.Trial(
                number=number,
                trial_id=trial_id,
                params={k: plain(v) for k, v in (result.config or {}).items()},
                history=[history[k] for k in sorted(history)],
                error=error,
                seconds=float(metrics.get("time_total_s") or 0.0),
                finished=status.get(str(result.path), "TERMINATED") in ("TERMINATED", "ERROR"),
                stopped_by_asha=trial_id in stopped_ids,
            )
        )
    return trials


def _trial_statuses(grid: Any) -> dict[str, str]:
    """Ray's status of each trial by folder (TERMINATED, ERROR, PENDING, RUNNING ...).

    Ray's public Result has no status, so a study stopped with Ctrl-C would show its
    running trial as finished; the ExperimentAnalysis behind the grid has it.
    """
    analysis = getattr(grid, "_experiment_analysis", None)
    statuses = {}
    for trial in getattr(analysis, "trials", None) or []:
        path = getattr(trial, "path", None)
        if path is not None:
            statuses[str(path)] = str(getattr(trial, "status", "TERMINATED"))
    return statuses


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def write_outputs(plan: StudyPlan, trials: list[results.Trial], out: Path) -> dict[str, Any]:
    """trials.csv, best_config.json and the figure; returns the summary."""
    names = list(plan.space.parameters)
    key = plan.metric_key
    atomic_write_text(out / results.TRIALS_FILE, results.trials_csv(trials, key, names))
    summary = results.summarise(trials, key)
    best = results.best_trial(trials, key)
    if best is None:
        first_error = next((t.error for t in trials if t.error), "no trial reported a score")
        raise HarnessError(f"{out}: no trial finished an epoch ({first_error})")
    config = results.best_config(
        plan.settings.system, plan.settings.seed, plan.fixed, best, key, out
    )
    results.write_json(out / results.BEST_CONFIG_FILE, config)
    title = (
        f"{plan.settings.system}: {summary['trials']} trials ({plan.settings.search}, "
        f"{plan.scheduler}), {summary['stopped_early']} stopped early"
    )
    plot_study(trials, list(plan.space.parameters.values()), key, out / results.FIGURE_FILE, title)
    summary.update(
        {
            "system": plan.settings.system,
            "search": plan.settings.search,
            "scheduler": plan.scheduler,
            "files": {
                "trials": str(out / results.TRIALS_FILE),
                "best_config": str(out / results.BEST_CONFIG_FILE),
                "figure": str(out / results.FIGURE_FILE),
                "ray_results": str(out / RAY_RESULTS),
            },
        }
    )
    return summary
