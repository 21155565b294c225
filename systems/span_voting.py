"""Span-level voting: how an ensemble turns its members' predictions into one.

The rule is fixed and documented, never fitted: a span (same offsets, same type) is kept
when at least ``span_votes`` members predicted it, a tweet is 7a-positive when at least
``label_votes`` members said so, and kept spans that overlap are resolved greedily by
votes, then length (a longer mention first), then position. Nothing here sees gold, so an
ensemble's settings cannot be tuned on the split it is scored on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from core.errors import HarnessError
from core.tweets import Prediction, Span


def majority(members: int) -> int:
    """More than half of ``members``: the default of both thresholds."""
    return members // 2 + 1


@dataclass(frozen=True)
class VotingRule:
    """How many of ``members`` must agree on a span and on a 7a label."""

    members: int
    span_votes: int
    label_votes: int

    @classmethod
    def of(cls, members: int, span_votes: int = 0, label_votes: int = 0) -> VotingRule:
        """The rule for ``members`` runs; a threshold of 0 means the majority."""
        if members < 2:
            raise HarnessError(f"an ensemble needs at least 2 members, got {members}")
        rule = cls(members, span_votes or majority(members), label_votes or majority(members))
        for name, votes in (("span votes", rule.span_votes), ("label votes", rule.label_votes)):
            if not 1 <= votes <= members:
                raise HarnessError(f"{name} must be between 1 and {members} (members), got {votes}")
        return rule

    def describe(self) -> str:
        return (
            f"a span wins with {self.span_votes} of {self.members} votes, a tweet is 7a-positive "
            f"with {self.label_votes} of {self.members}; overlaps go to more votes, then the "
            "longer span"
        )


def vote_tweet(tweet_id: str, predictions: Sequence[Prediction], rule: VotingRule) -> Prediction:
    """One tweet's ensemble prediction from each member's prediction of it."""
    if len(predictions) != rule.members:
        raise HarnessError(
            f"tweet {tweet_id}: {len(predictions)} member predictions, expected {rule.members}"
        )
    votes: Counter[Span] = Counter()
    for prediction in predictions:
        votes.update(set(prediction.spans))  # a member votes once per span
    candidates = sorted(
        (span for span, count in votes.items() if count >= rule.span_votes),
        key=lambda s: (-votes[s], -len(s), s.begin, s.type),
    )
    kept: list[Span] = []
    for span in candidates:
        if not any(span.overlaps(other) for other in kept):
            kept.append(span)
    positive = sum(p.label for p in predictions) >= rule.label_votes
    return Prediction.from_spans(tweet_id, kept, label=int(positive))


def vote(members: Sequence[Sequence[Prediction]], rule: VotingRule) -> list[Prediction]:
    """The ensemble's predictions; every member answers the same tweets in the same order."""
    if len(members) != rule.members:
        raise HarnessError(f"{len(members)} members' predictions, the rule is for {rule.members}")
    lengths = {len(m) for m in members}
    if len(lengths) != 1:
        raise HarnessError(f"members predicted different numbers of tweets: {sorted(lengths)}")
    combined = []
    for row in zip(*members, strict=True):
        ids = {p.tweet_id for p in row}
        if len(ids) != 1:
            raise HarnessError(f"members disagree on the tweet order: {sorted(ids)[:2]}")
        combined.append(vote_tweet(row[0].tweet_id, row, rule))
    return combined
