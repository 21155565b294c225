"""The study's picture, like the paper's Figure 1: each hyperparameter against valid F1.

One panel per sampled option; each trial is a point at its value and its best validation
score. Trials ASHA stopped early are drawn as crosses, so a glance shows which regions
the scheduler gave up on; the best trial is ringed. Log-sampled options get a log axis,
``choice`` options one column per value (jittered so equal values stay visible).
Drawn with matplotlib's object API (no pyplot), so no display or global state is needed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path

from core.fileio import atomic_output
from harness.tuning.results import COMPLETED, CUT, ERROR, STOPPED, Trial, best_trial
from harness.tuning.space import Parameter

COLUMNS = 3
#: Axis labels of the reported metrics.
LABELS = {"valid_7b_strict_f1": "valid 7b strict F1", "valid_7a_f1": "valid 7a F1"}


def plot_study(
    trials: Sequence[Trial],
    parameters: Sequence[Parameter],
    key: str,
    path: Path,
    title: str = "",
) -> Path:
    """Write the figure as a PNG to ``path`` (atomically) and return the path."""
    from matplotlib.figure import Figure

    columns = min(COLUMNS, max(len(parameters), 1))
    rows = max(1, math.ceil(len(parameters) / columns))
    figure = Figure(figsize=(max(4.2 * columns, 8.0), 3.3 * rows + 0.8), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False)
    best = best_trial(trials, key)
    shown = [t for t in trials if t.status() != ERROR and t.best(key)[0] is not None]
    for index, parameter in enumerate(parameters):
        ax = axes[index // columns][index % columns]
        for status, marker, colour, label in (
            (COMPLETED, "o", "tab:blue", "completed"),
            (STOPPED, "x", "tab:orange", "stopped early (ASHA)"),
            (CUT, "+", "tab:gray", "cut by the time budget"),
        ):
            group = [t for t in shown if t.status() == status and parameter.name in t.params]
            if not group:
                continue
            xs = [_position(parameter, t, index) for t in group]
            ys = [t.best(key)[0] for t in group]
            ax.scatter(xs, ys, marker=marker, color=colour, label=label, alpha=0.8, s=28)
        if best is not None and parameter.name in best.params:
            ax.scatter(
                [_position(parameter, best, index)],
                [best.best(key)[0]],
                s=160,
                facecolors="none",
                edgecolors="tab:red",
                linewidths=1.5,
                label="best trial",
            )
        _axis(ax, parameter)
        ax.set_ylabel(LABELS.get(key, key))
        ax.grid(alpha=0.3)
    for index in range(len(parameters), rows * columns):
        axes[index // columns][index % columns].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=4, frameon=False)
    stopped = sum(t.status() == STOPPED for t in trials)
    figure.suptitle(title or f"{len(trials)} trials, {stopped} stopped early")
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return path


def _position(parameter: Parameter, trial: Trial, panel: int) -> float:
    """Where a trial goes on the x axis: its value, or its column for a ``choice``.

    The jitter of a choice column depends only on the trial and the panel, so the ring
    of the best trial lands on its dot.
    """
    value = trial.params[parameter.name]
    if not parameter.is_choice:
        return float(value)
    reprs = [repr(v) for v in parameter.args]
    column = float(reprs.index(repr(value))) if repr(value) in reprs else -1.0
    return column + random.Random(trial.number * 1009 + panel).uniform(-0.12, 0.12)


def _axis(ax, parameter: Parameter) -> None:
    ax.set_title(f"{parameter.name}  {parameter.describe()}", fontsize=9)
    if parameter.is_choice:
        ax.set_xticks(range(len(parameter.args)), [str(v) for v in parameter.args])
        ax.set_xlim(-0.5, len(parameter.args) - 0.5)
    elif parameter.is_log:
        from matplotlib.ticker import NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())  # labels at 2, 3, ... x 10^k overlap
