"""The domain objects that flow through the harness: tweets, spans and predictions.

They are plain frozen dataclasses with no framework dependency, so the reader, the
systems, the scorer and the submission writer can all share them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from core.display import control_character, shown
from core.errors import HarnessError

#: The entity types ProfNER evaluates; the gold also holds ACTIVIDAD and FIGURATIVA.
EVALUATED_TYPES: tuple[str, ...] = ("PROFESION", "SITUACION_LABORAL")
#: Every entity type present in the ProfNER gold standard.
ALL_PROFNER_TYPES: tuple[str, ...] = (*EVALUATED_TYPES, "ACTIVIDAD", "FIGURATIVA")


def check_tweet_id(tweet_id: str, where: str) -> None:
    """Refuse an id that a submission TSV cannot carry, with one line naming ``where``.

    Ids become the first column of every submission row. A tab or newline in one (a
    tweet file named ``12<TAB>34.txt``) splits the row and corrupts the file the scorer
    reads; other control and invisible characters make rows that cannot be told apart
    from another tweet's by eye; and blanks at either end are stripped by the official
    scorer, so the row could never match its tweet. Better to stop when reading.
    """
    bad = control_character(tweet_id)
    if bad is not None:
        raise HarnessError(
            f"{where}: tweet id {shown(tweet_id)} holds a control character ({bad}); "
            "a submission TSV cannot carry it"
        )
    if tweet_id != tweet_id.strip():
        raise HarnessError(
            f"{where}: tweet id {tweet_id!r} begins or ends with a blank, which the "
            "official scorer strips, so its rows could never match"
        )
    if not tweet_id:
        raise HarnessError(f"{where}: empty tweet id")


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
