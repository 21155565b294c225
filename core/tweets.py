"""The domain objects that flow through the harness: tweets, spans and predictions.

They are plain frozen dataclasses with no framework dependency, so the reader, the
systems, the scorer and the submission writer can all share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: The entity types ProfNER evaluates; the gold also holds ACTIVIDAD and FIGURATIVA.
EVALUATED_TYPES: tuple[str, ...] = ("PROFESION", "SITUACION_LABORAL")
#: Every entity type present in the ProfNER gold standard.
ALL_PROFNER_TYPES: tuple[str, ...] = (*EVALUATED_TYPES, "ACTIVIDAD", "FIGURATIVA")


@dataclass(frozen=True, order=True)
class Span:
    """A typed entity mention: character offsets into the tweet text.

    Offsets count Unicode code points, ``end`` is exclusive, exactly as brat and the
    ProfNER TSV give them, so ``text[span.begin:span.end]`` is the mention.
    """

    begin: int
    end: int
    type: str

    def __post_init__(self) -> None:
        if self.begin < 0 or self.end <= self.begin:
            raise ValueError(f"invalid span offsets {self.begin}-{self.end} ({self.type})")

    def overlaps(self, other: Span) -> bool:
        """True when the two spans share at least one character."""
        return self.begin < other.end and other.begin < self.end

    def __len__(self) -> int:
        return self.end - self.begin


@dataclass(frozen=True)
class Tweet:
    """One document of a split: its id, text and (when the split has gold) its labels.

    ``label`` is the task 7a gold (1 when the tweet mentions an occupation) and ``spans``
    the task 7b gold; both are ``None`` for splits distributed without gold.
    """

    id: str
    text: str
    label: int | None = None
    spans: tuple[Span, ...] | None = None

    @property
    def has_gold(self) -> bool:
        return self.label is not None or self.spans is not None

    def mention(self, span: Span) -> str:
        """The text a span covers (the TSV's ``extraction`` column)."""
        return self.text[span.begin : span.end]


@dataclass(frozen=True)
class Prediction:
    """What a system says about one tweet: a 7a label and 7b spans."""

    tweet_id: str
    label: int
    spans: tuple[Span, ...] = field(default_factory=tuple)

    @staticmethod
    def from_spans(tweet_id: str, spans: Iterable[Span], label: int | None = None) -> Prediction:
        """Build a prediction; without an explicit label, 7a is positive iff a span exists."""
        spans = tuple(sorted(set(spans)))
        if label is None:
            label = 1 if spans else 0
        return Prediction(tweet_id=tweet_id, label=label, spans=spans)
