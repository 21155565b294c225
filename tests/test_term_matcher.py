"""The one matcher of every dictionary and gazetteer: greedy, longest first, no overlap,
no term across a gap; checked against the plain scan it replaced."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from systems.term_matcher import TermMatcher


def plain_scan(terms: set[tuple[str, ...]], words: list[str | None]) -> list[tuple[int, int]]:
    """The loop that ``systems/lookup.py`` and ``systems/gazetteer.py`` each had."""
    longest = max((len(t) for t in terms), default=0)
    found, i = [], 0
    while i < len(words):
        for n in range(min(longest, len(words) - i), 0, -1):
            window = words[i : i + n]
            if None not in window and tuple(window) in terms:
                found.append((i, i + n))
                i += n
                break
        else:
            i += 1
    return found


def test_the_longest_term_wins_and_matches_never_overlap():
    matcher = TermMatcher(
        [("médico",), ("médico", "de", "familia"), ("de", "familia"), ("enfermera",)]
    )
    words = ["el", "médico", "de", "familia", "y", "la", "enfermera"]
    assert matcher.matches(words) == [(1, 4), (6, 7)]
    assert matcher.matches(["médico", None, "de", "familia"]) == [(0, 1), (2, 4)]
    assert TermMatcher([]).matches(["médico"]) == []
    assert TermMatcher([("",)]).matches([""]) == []  # an empty folded token is no term


WORD = st.sampled_from(["a", "b", "c", "dd"])


@settings(max_examples=300, deadline=None)
@given(
    terms=st.sets(st.lists(WORD, min_size=1, max_size=4).map(tuple), max_size=8),
    words=st.lists(st.one_of(WORD, st.none()), max_size=14),
)
def test_the_matcher_finds_what_the_plain_scan_found(terms, words):
    assert TermMatcher(terms).matches(words) == plain_scan(terms, words)
