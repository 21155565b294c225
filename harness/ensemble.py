"""Ensembles of saved runs: a run folder whose predictions are its members' votes.

``harness ensemble RUN... --out DIR`` reads each run's written predictions (exactly what
it submitted), votes them per span with :mod:`systems.span_voting`, and writes a run
folder like ``harness run`` does: config.json, metrics.json, predictions/SPLIT/ with the
submission files, and model/, a saved :class:`EnsembleSystem` holding a copy of every
member's model (hard links where the file system allows, so it costs no space and
survives the member runs being deleted). ``harness predict DIR/model`` then predicts new
data with every member and votes the same way.

The voting thresholds come from a fixed rule (a majority) or the user, never from valid
gold: the valid split is read for its ids and texts only, and scored after the vote.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from core.corpus import Split, load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.fileio import atomic_write_text, read_json_object
from core.inference_paths import AUTO
from core.output_folders import output_folder
from core.system import System, SystemConfig, read_system_file
from core.tweets import EVALUATED_TYPES, Prediction, Span, Tweet
from harness import __version__, registry
from harness.runner import check_predictions, score_written, summary_line, write_predictions
from submissions import read_system_output
from systems.span_voting import VotingRule, vote

MEMBERS = "members"


@dataclass
class EnsembleConfig(SystemConfig):
    #: the members' model folders, relative to the ensemble's model folder
    members: tuple[str, ...] = ()
    #: votes a span needs (0: a majority of the members)
    span_votes: int = 0
    #: votes a tweet's 7a label needs (0: a majority of the members)
    label_votes: int = 0


class EnsembleSystem(System):
    """Saved models voting span by span; made by ``harness ensemble``, not trained."""

    name: ClassVar[str] = "ensemble"
    description: ClassVar[str] = (
        "saved runs voting span by span (made with 'harness ensemble RUN... --out DIR')"
    )
    labels_from_spans: ClassVar[bool] = False
    trainable: ClassVar[bool] = False
    paths_note: ClassVar[str] = (
        "its members' own: --precision and --engine go to every member (auto: each its best)"
    )
    Config: ClassVar[type[SystemConfig]] = EnsembleConfig

    def __init__(self, config: SystemConfig | None = None):
        super().__init__(config)
        self.members: list[System] = []
        #: model folders to copy into the saved ensemble (while it is being made)
        self.sources: list[Path] = []

    @property
    def rule(self) -> VotingRule:
        config = self.config
        assert isinstance(config, EnsembleConfig)
        return VotingRule.of(len(config.members), config.span_votes, config.label_votes)

    def fit(self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> EnsembleSystem:
        raise HarnessError(
            "system 'ensemble' is not trained: train its members with 'harness run', then "
            "'harness ensemble RUN... --out DIR'"
        )

    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        outputs = []
        for member in self.members:
            member.show_progress = self.show_progress
            predictions = member.predict(tweets)
            check_predictions(predictions, tweets, member.name, member.config.types)
            outputs.append(predictions)
        return vote(outputs, self.rule)

    def use_precision(self, precision: str, engine: str = "torch") -> EnsembleSystem:
        """Every member takes the path (with ``auto``, each its own best one)."""
        for member in self.members:
            member.use_precision(precision, engine)
        self.inference_path = "; ".join(f"{m.name} {m.inference_path}" for m in self.members)
        if precision == AUTO:
            self.inference_path = f"each member's own: {self.inference_path}"
        return self

    def save_model(self, folder: Path) -> None:
        config = self.config
        assert isinstance(config, EnsembleConfig)
        if len(self.sources) != len(config.members):
            raise HarnessError("ensemble: only an ensemble being made can be saved")
        for source, name in zip(self.sources, config.members, strict=True):
            shutil.copytree(source, folder / name, copy_function=_link_or_copy)

    @classmethod
    def load_model(cls, folder: Path, config: SystemConfig) -> EnsembleSystem:
        assert isinstance(config, EnsembleConfig)
        system = cls(config)
        system.rule  # noqa: B018 (a bad count or threshold stops here, with its reason)
        for name in config.members:
            member = folder / name
            if Path(name).is_absolute() or ".." in Path(name).parts or not member.is_dir():
                raise HarnessError(f"{folder}: member model folder {name!r} is missing")
            system.members.append(registry.load_saved(member))
        return system

    def parameter_count(self) -> int:
        if self.members:
            return sum(m.parameter_count() for m in self.members)
        return sum(int(read_system_file(s).get("parameters", 0)) for s in self.sources)


def _link_or_copy(source: str, target: str) -> None:
    """A hard link when the file system allows it (no space, and it outlives the member's
    run folder); a copy otherwise (another device, a file system without links)."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


# -- making an ensemble run folder -----------------------------------------------------------


@dataclass
class Member:
    """One run folder joining the ensemble, with what its config.json recorded."""

    run: Path
    system: str
    corpus: str
    train_on: str
    all_types: bool
    types: tuple[str, ...]
    seed: Any
    splits: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, run: Path) -> Member:
        if not (run / "config.json").is_file():
            raise HarnessError(f"{run}: not a run folder (no config.json)")
        config = read_json_object(run / "config.json", "run config")
        settings = config.get("settings", {})
        system_config = config.get("system_config", {})
        if not isinstance(settings, dict) or not isinstance(system_config, dict):
            raise HarnessError(f"{run}/config.json: 'settings' must be an object")
        if not (run / "model").is_dir():
            raise HarnessError(f"{run}: no model/ folder (was the run finished?)")
        read_system_file(run / "model")
        predictions = run / "predictions"
        splits = (
            sorted(p.name for p in predictions.iterdir() if p.is_dir())
            if predictions.is_dir()
            else []
        )
        return cls(
            run=run,
            system=str(settings.get("system", "?")),
            corpus=str(config.get("corpus", "")),
            train_on=str(settings.get("train_on", "train")),
            all_types=bool(settings.get("all_types", False)),
            types=tuple(system_config.get("types", ())),
            seed=settings.get("seed"),
            splits=splits,
        )

    def predictions(self, split: Split) -> list[Prediction]:
        """What the run wrote for ``split``, read as the scorer reads it."""
        folder = self.run / "predictions" / split.name
        texts = {t.id: t.text for t in split.tweets}
        output = read_system_output(folder, split.ids, texts)
        if output.entities is None:
            raise HarnessError(f"{folder}: no 7b predictions to vote with")
        if output.notes or (output.labels is not None and len(output.labels) != len(split)):
            # a harness run writes every tweet once, inside its text: anything else means
            # the files are for other tweets (another corpus given with --data)
            first = f": {output.notes[0]}" if output.notes else ""
            raise HarnessError(
                f"{folder}: not the predictions of split '{split.name}' of this corpus "
                f"({len(output.notes)} problem(s){first})"
            )
        predictions = []
        for tweet in split.tweets:
            try:
                spans = [Span(e.begin, e.end, e.type) for e in output.entities[tweet.id]]
            except ValueError as err:
                raise HarnessError(f"{folder}: tweet {tweet.id}: {err}") from None
            label = output.labels.get(tweet.id, 0) if output.labels is not None else None
            predictions.append(Prediction.from_spans(tweet.id, spans, label))
        check_predictions(predictions, split.tweets, f"{self.system} ({self.run})", self.types)
        return predictions


def _agreed(members: Sequence[Member], what: str, value: Callable[[Member], Any]) -> Any:
    values = {str(value(m)) for m in members}
    if len(values) > 1:
        listed = "; ".join(f"{m.run}: {value(m)}" for m in members)
        raise HarnessError(f"the runs differ in {what} ({listed}); an ensemble needs one")
    return value(members[0])


def make_ensemble(
    runs: Sequence[Path],
    out: Path,
    *,
    data: str | None = None,
    span_votes: int = 0,
    label_votes: int = 0,
    force: bool = False,
    notify: Callable[[str], None] = lambda line: None,
) -> Path:
    """Vote the runs' predictions into a new run folder ``out`` and return it."""
    resolved = [r.resolve() for r in runs]
    if len(set(resolved)) != len(resolved):
        raise HarnessError("a run is named twice: each member votes once")
    members = [Member.read(run) for run in runs]
    rule = VotingRule.of(len(members), span_votes, label_votes)
    train_on = _agreed(
        members, "--train-on (a member that saw valid would leak it)", lambda m: m.train_on
    )
    types = _agreed(members, "entity types", lambda m: tuple(sorted(m.types)))
    all_types = _agreed(members, "--all-types", lambda m: m.all_types)
    corpus_path = resolve(data) if data else Path(_agreed(members, "corpus", lambda m: m.corpus))
    corpus = load_corpus(corpus_path, types=None if all_types else EVALUATED_TYPES)
    splits = [s for s in corpus.splits if s != "train" and all(s in m.splits for m in members)]
    if not splits:
        raise HarnessError(f"the runs have no predicted split of {corpus_path} in common")
    system = EnsembleSystem(
        EnsembleConfig(
            types=tuple(members[0].types),
            members=tuple(f"{MEMBERS}/{i}" for i in range(len(members))),
            span_votes=rule.span_votes,
            label_votes=rule.label_votes,
        )
    )
    system.sources = [m.run / "model" for m in members]
    notify(f"voting: {rule.describe()}")
    config = {
        "settings": {
            "system": "ensemble",
            "runs": [str(r) for r in resolved],
            "data": str(corpus_path),
            "train_on": train_on,
            "all_types": all_types,
            "span_votes": rule.span_votes,
            "label_votes": rule.label_votes,
        },
        "rule": rule.describe(),
        "members": [
            {"run": str(m.run.resolve()), "system": m.system, "seed": m.seed} for m in members
        ],
        "corpus": str(corpus_path),
        "harness_version": __version__,
    }
    metrics: dict[str, Any] = {
        "system": "ensemble",
        "parameters": system.parameter_count(),
        "train_on": train_on,
        "types": list(types),
        "scores": {},
    }
    with output_folder(out, "ensemble", force=force, inputs=[corpus_path, *resolved]) as work:
        atomic_write_text(work / "config.json", json.dumps(config, indent=2, ensure_ascii=False))
        for name in splits:
            split = corpus.split(name)
            voted = vote([m.predictions(split) for m in members], rule)
            check_predictions(voted, split.tweets, "ensemble", system.config.types)
            write_predictions(work / "predictions" / name, voted, split.tweets)
            if split.has_gold:  # scored only now, after the vote
                report = score_written(work / "predictions" / name, corpus_path, name)
                if name == "valid" and train_on == "train+valid":
                    report["note"] = "valid was part of the training data: not a held-out score"
                metrics["scores"][name] = report
                notify(f"{name}: {summary_line(report)}")
        system.save(work / "model")
        atomic_write_text(work / "metrics.json", json.dumps(metrics, indent=2))
    return out
