"""Precision, recall and F1 from counts, with each sub-task's official arithmetic.

The two sub-tasks were scored by different scripts and their formulas differ in the
last digits, which matter because 7a is published with twelve significant digits:

* 7b adds ``1e-6`` to every denominator (``P = TP / (TP + FP + 1e-6)``, ...,
  ``F1 = 2PR / (P + R + 1e-6)``), so its F1 is slightly below the harmonic mean;
* 7a uses the exact ratios and ``F1 = 2PR / (P + R)``. With the ``1e-6`` terms none of
  the nine official 7a F1 figures is reproduced; without them all nine are.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The constant the official 7b scorer adds to each denominator.
OFFICIAL_EPSILON = 1e-6


@dataclass(frozen=True)
class Metric:
    """Counts and the figures derived from them, as reported for one metric."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, int | float]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def ner_metric(tp: int, fp: int, fn: int) -> Metric:
    """The official 7b arithmetic: every denominator carries ``+1e-6``.

    The epsilons also make empty cases (no gold, no prediction) come out as 0.0 instead
    of dividing by zero, which is why every 7b metric here uses this formula, not only
    the two official ones: figures in one report stay comparable.
    """
    precision = 1.0 * tp / (tp + fp + OFFICIAL_EPSILON)
    recall = 1.0 * tp / (tp + fn + OFFICIAL_EPSILON)
    f1 = 2.0 * precision * recall / (precision + recall + OFFICIAL_EPSILON)
    return Metric(tp, fp, fn, precision, recall, f1)


def classification_metric(tp: int, fp: int, fn: int) -> Metric:
    """The official 7a arithmetic for the positive class: exact ratios, ``2PR/(P+R)``.

    An undefined ratio (no positive prediction, no positive gold) is reported as 0.0,
    as scikit-learn does, rather than raising.
    """
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metric(tp, fp, fn, precision, recall, f1)
