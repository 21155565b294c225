"""The plain data the scorer works on: entities as the official scorer keeps them,
warnings with their location, and the two sides of a scoring run.

These are deliberately looser than :class:`core.tweets.Span`: the official CodaLab
scorer accepted any integer offsets (even ``end <= begin``) and we must count exactly
what it counted, so nothing here validates offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Entity(NamedTuple):
    """One 7b annotation row as the official scorer keeps it: offsets and type only.

    The ``extraction`` column is ignored by the official scorer, so it is not kept.
    """

    begin: int
    end: int
    type: str


@dataclass(frozen=True)
class Note:
    """A warning about the input, located as precisely as possible.

    ``line`` is 1-based and ``None`` when the remark is about a whole file or split.
    """

    source: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.message}"


#: Per-tweet entity lists; every tweet id of the split is a key (empty list = no entity).
EntityTable = dict[str, list[Entity]]
#: Per-tweet 7a labels (0 or 1).
LabelTable = dict[str, int]


@dataclass
class GoldStandard:
    """The reference side: the split's tweet ids and whichever gold tasks exist.

    ``tweet_ids`` defines the evaluation universe, as the official "tweet file" did:
    rows for other ids are skipped and every listed tweet is scored. ``texts`` is known
    when the gold came from a corpus (gold TSVs carry none); scoring never uses it, only
    the warnings about predicted spans outside their tweet do.
    """

    source: str
    tweet_ids: tuple[str, ...]
    labels: LabelTable | None = None
    entities: EntityTable | None = None
    notes: list[Note] = field(default_factory=list)
    texts: dict[str, str] | None = None


@dataclass
class SystemOutput:
    """The prediction side, already restricted to the split and the evaluated types.

    A task is ``None`` when no prediction for it was given. ``labels`` may lack tweets
    (the scorer counts a missing tweet as label 0); ``entities`` has every split id.
    """

    source: str
    labels: LabelTable | None = None
    entities: EntityTable | None = None
    notes: list[Note] = field(default_factory=list)
    #: The file the 7b rows came from (the TSV, or the folder of ``.ann`` files), for
    #: notes about them; ``None`` means ``source``.
    entities_source: str | None = None
