"""``harness run``: train a system, predict, score, package, and leave one run folder.

The folder is assembled under a temporary name beside the target and renamed at the
end, so a crashed or interrupted run never leaves a folder that looks complete::

    RUN/config.json         everything needed to repeat the run
    RUN/metrics.json        scores per split (same shape as `harness score --json`), timings
    RUN/predictions/SPLIT/  submission TSVs, CodaLab zips and the brat zip
    RUN/model/              the saved system (load with harness.registry.load_saved)
    RUN/run.log             the log
"""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.corpus import Corpus, load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.fileio import atomic_write_text, read_json_object
from core.output_folders import output_folder
from core.seeding import seed_everything
from core.system import System, config_from_dict, config_to_dict
from core.tweets import EVALUATED_TYPES, Prediction, Tweet
from eval import score
from harness import __version__, registry
from submissions import load_gold, read_system_output, write_submission

log = logging.getLogger("harness")

TRAIN_ON = ("train", "train+valid")


@dataclass
class RunSettings:
    """What a run needs besides the corpus files; saved as ``config.json``."""

    system: str
    data: str = "sample"
    train_on: str = "train"
    seed: int = 13
    all_types: bool = False
    options: dict[str, Any] = field(default_factory=dict)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a ``--config`` JSON file: a run's ``config.json`` or ``{"system", "options"}``."""
    path = Path(path)
    data = read_json_object(path, "config file")
    settings = data.get("settings", data)
    options = settings.get("options", settings.get("config", {}))
    if not isinstance(options, dict):
        raise HarnessError(f"{path}: 'options' must be an object")
    options = dict(options)
    lifted = {"seed": options.pop("seed")} if "seed" in options else {}  # the run's seed
    return {
        **lifted,
        **{k: v for k, v in settings.items() if k in {"system", "seed", "train_on"}},
        "options": options,
    }


def default_run_dir(system: str) -> Path:
    return Path("runs") / f"{system}-{time.strftime('%Y%m%d-%H%M%S')}"


def build_system(settings: RunSettings, corpus: Corpus) -> System:
    cls = registry.get(settings.system)
    values: dict[str, Any] = dict(settings.options)
    if "seed" in values:
        # one seed seeds the whole run (corpus order, initialisation, shuffling)
        raise HarnessError(
            f"system '{settings.system}': the seed is the run's own: "
            f"give --seed {values['seed']}, not -o seed={values['seed']}"
        )
    values.setdefault("types", list(corpus.types))
    values["seed"] = settings.seed
    config = config_from_dict(cls.Config, values, where=f"system '{settings.system}'")
    return cls(config)


def _training_tweets(corpus: Corpus, train_on: str) -> tuple[list[Tweet], list[Tweet] | None]:
    if train_on not in TRAIN_ON:
        raise HarnessError(f"--train-on must be one of {', '.join(TRAIN_ON)}, got {train_on!r}")
    train = list(corpus.gold_split("train").tweets)
    valid = list(corpus.gold_split("valid").tweets) if "valid" in corpus.splits else None
    if train_on == "train+valid":
        if valid is None:
            raise HarnessError(f"{corpus.source}: --train-on train+valid needs a valid split")
        return train + valid, None
    return train, valid


def run(
    settings: RunSettings,
    out: Path | None = None,
    *,
    force: bool = False,
    progress: bool = True,
    notify: Callable[[str], None] | None = None,
) -> Path:
    """Execute a run and return its folder; ``notify`` hears what was chosen for the user
    at the start (an encoder ``auto``), before the long steps."""
    if not registry.get(settings.system).trainable:
        raise HarnessError(
            f"system '{settings.system}' is not trained by 'harness run' "
            f"(see 'harness systems {settings.system}')"
        )
    out = Path(out) if out is not None else default_run_dir(settings.system)
    # the corpus, and any option naming a file or folder (vectors, a gazetteer, a model)
    named = [v for v in settings.options.values() if isinstance(v, str) and v]
    inputs = [resolve(settings.data), *(Path(v) for v in named if Path(v).exists())]
    with output_folder(out, "run", force=force, inputs=inputs) as work:
        handler = logging.FileHandler(work / "run.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            _run_into(work, settings, progress, notify or (lambda line: None))
        finally:  # the log is complete before the folder is moved into place
            handler.close()
            log.removeHandler(handler)
    return out


def _run_into(
    work: Path, settings: RunSettings, progress: bool, notify: Callable[[str], None]
) -> None:
    corpus_path = resolve(settings.data)
    corpus = load_corpus(corpus_path, types=None if settings.all_types else EVALUATED_TYPES)
    log.info(
        "corpus %s: %s", corpus_path, ", ".join(f"{n}={len(s)}" for n, s in corpus.splits.items())
    )
    seed_everything(settings.seed)
    system = build_system(settings, corpus)
    system.show_progress = progress
    train, valid = _training_tweets(corpus, settings.train_on)
    settled = system.settle()
    for option, choice in settled.items():
        line = f"{option}={choice['requested']}: {choice['chosen']} ({choice['reason']})"
        log.info("%s", line)
        notify(line)
    config = {
        "settings": asdict(settings),
        "system_config": config_to_dict(system.config),
        "settled": settled,
        "corpus": str(corpus_path),
        "harness_version": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    atomic_write_text(work / "config.json", json.dumps(config, indent=2, ensure_ascii=False))

    log.info("fitting %s on %s (%d tweets)", settings.system, settings.train_on, len(train))
    started = time.perf_counter()
    system.fit(train, valid)
    timings = {"fit_seconds": round(time.perf_counter() - started, 3)}
    log.info("fitted in %.1f s; %d parameters", timings["fit_seconds"], system.parameter_count())

    metrics: dict[str, Any] = {
        "system": settings.system,
        "parameters": system.parameter_count(),
        "train_on": settings.train_on,
        "scores": {},
    }
    # every split but the training split: valid (scored), and each split without gold that
    # the corpus holds (test, background, ...), whose predictions are the submission
    for split_name in (s for s in corpus.splits if s != "train"):
        split = corpus.split(split_name)
        started = time.perf_counter()
        predictions = system.predict(split.tweets)
        timings[f"predict_{split_name}_seconds"] = round(time.perf_counter() - started, 3)
        check_predictions(predictions, split.tweets, settings.system, system.config.types)
        files = write_predictions(work / "predictions" / split_name, predictions, split.tweets)
        log.info("%s: wrote %s", split_name, ", ".join(sorted(p.name for p in files.values())))
        if split.has_gold:
            report = score_written(work / "predictions" / split_name, corpus_path, split_name)
            if split_name == "valid" and settings.train_on == "train+valid":
                report["note"] = "valid was part of the training data: not a held-out score"
            metrics["scores"][split_name] = report
            log.info("%s: %s", split_name, summary_line(report))
    metrics["timings"] = timings
    if system.history:
        metrics["epochs"] = system.history
    system.save(work / "model")
    atomic_write_text(work / "metrics.json", json.dumps(metrics, indent=2))


def check_predictions(
    predictions: Sequence[Prediction],
    tweets: Sequence[Tweet],
    name: str,
    types: Collection[str],
) -> None:
    """Refuse a system's output unless it answers every tweet once, in order, with spans
    inside their text (so ``text[begin:end]`` is the extraction written) of the system's
    ``types``; the :class:`HarnessError` names the system, the tweet and the span.

    ``harness run`` and ``harness predict`` call it before writing anything.
    """
    if len(predictions) != len(tweets):
        raise HarnessError(
            f"system '{name}' returned {len(predictions)} predictions for {len(tweets)} tweets"
        )
    allowed = set(types)
    for index, (prediction, tweet) in enumerate(zip(predictions, tweets, strict=True)):
        if prediction.tweet_id != tweet.id:
            raise HarnessError(
                f"system '{name}': prediction {index} is for tweet {prediction.tweet_id!r}, "
                f"expected tweet {tweet.id!r} (one prediction per tweet, in order)"
            )
        for span in prediction.spans:
            where = f"system '{name}': tweet {tweet.id}: span {span.begin}-{span.end} {span.type!r}"
            if span.begin < 0 or span.end > len(tweet.text) or span.begin >= span.end:
                raise HarnessError(f"{where} is not inside the text (length {len(tweet.text)})")
            if span.type not in allowed:
                raise HarnessError(
                    f"{where} has a type the system does not predict ({', '.join(sorted(allowed))})"
                )


# -- the seams to submissions/ and eval/ ------------------------------------------------------


def write_predictions(
    folder: Path, predictions: list[Prediction], tweets: list[Tweet]
) -> Mapping[str, Path]:
    return write_submission(folder, predictions, {t.id: t.text for t in tweets})


def score_written(folder: Path, corpus_path: Path, split: str) -> dict[str, Any]:
    """Score the written submission files exactly as ``harness score`` would."""
    gold, _ = load_gold(corpus_path, split)
    report = score(gold, read_system_output(folder, gold.tweet_ids, gold.texts))
    for note in report.warnings:
        log.warning("%s", note)
    return report.as_dict()


def summary_line(report: Mapping[str, Any]) -> str:
    parts = []
    if "7a" in report:
        parts.append(f"7a F1 {report['7a']['f1']:.4f}")
    if "7b" in report:
        parts.append(f"7b strict F1 {report['7b']['strict']['f1']:.4f}")
        parts.append(f"relaxed F1 {report['7b']['relaxed']['f1']:.4f}")
    return ", ".join(parts)
