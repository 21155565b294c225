"""Timing a system the way a user calls it: one ``predict`` on one tweet, on the CPU.

The paper's Table 4 reports the mean time of one prediction; we also keep the standard
deviation, median and minimum, since shared machines are noisy. No framework import:
systems are timed through their public ``predict``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from core.tweets import Tweet

K = TypeVar("K")


@dataclass(frozen=True)
class Latency:
    """Milliseconds per call over ``rounds`` timed calls (after warm-up calls)."""

    mean_ms: float
    std_ms: float
    median_ms: float
    min_ms: float
    rounds: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean_ms:.1f} ± {self.std_ms:.1f} ms (median {self.median_ms:.1f})"


def summarise(samples_ms: Sequence[float]) -> Latency:
    if not samples_ms:
        raise ValueError("no timed calls to summarise")
    return Latency(
        mean_ms=statistics.fmean(samples_ms),
        std_ms=statistics.stdev(samples_ms) if len(samples_ms) > 1 else 0.0,
        median_ms=statistics.median(samples_ms),
        min_ms=min(samples_ms),
        rounds=len(samples_ms),
    )


def measure_interleaved(
    calls: Mapping[K, Callable[[], object]], rounds: int = 30, warmup: int = 3
) -> dict[K, Latency]:
    """Time several calls round-robin: each round calls every one of them once.

    Interleaving is what makes ratios between them (int8 against fp32) trustworthy on a
    shared machine: a burst of load from a neighbour slows every call of that round, not
    all the rounds of one of them.
    """
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: dict[K, list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            samples[key].append((time.perf_counter() - started) * 1000)
    return {key: summarise(times) for key, times in samples.items()}


def benchmark_tweets(tweets: Sequence[Tweet]) -> dict[str, Tweet]:
    """The tweets Table-4-style figures are measured on: a median-length and a long one.

    Length is in characters; "long" is the longest tweet of the split.
    """
    if not tweets:
        raise ValueError("no tweets to benchmark on")
    ordered = sorted(tweets, key=lambda t: (len(t.text), t.id))
    return {"median": ordered[(len(ordered) - 1) // 2], "long": ordered[-1]}


def throughput(predict: Callable[[Sequence[Tweet]], object], tweets: Sequence[Tweet]) -> float:
    """Tweets per second when ``predict`` gets all ``tweets`` at once (batched inside)."""
    started = time.perf_counter()
    predict(tweets)
    return len(tweets) / (time.perf_counter() - started)
