"""Greedy longest matches of a term list in a token sequence, for every dictionary and
gazetteer of the harness.

spaCy's ``PhraseMatcher`` finds every occurrence of every term (token sequences, matched
on their exact text, which the caller has already folded as it wants); the harness then
keeps, scanning left to right, the longest term starting at each position and resumes
after it, so matches never overlap and a longer term wins over a shorter one it contains.
A ``None`` in the sequence is a gap no term crosses (a newline or run of spaces inside a
tweet, for the gazetteer flags).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

#: what an empty folded token (a lone combining mark) is matched as: never a term's text
_EMPTY = "\x00"


class TermMatcher:
    """Every term of ``terms`` (tuples of token texts), found greedily longest-first."""

    def __init__(self, terms: Iterable[tuple[str, ...]]):
        self.vocab = Vocab()
        self.matcher = PhraseMatcher(self.vocab)
        patterns = [self._doc(term) for term in terms if term and all(term)]
        if patterns:
            self.matcher.add("TERM", patterns)
        self.size = len(patterns)

    def _doc(self, words: Sequence[str]) -> Doc:
        return Doc(self.vocab, words=[w or _EMPTY for w in words], spaces=[False] * len(words))

    def matches(self, words: Sequence[str | None]) -> list[tuple[int, int]]:
        """``(start, end)`` word indices of the kept matches, in order."""
        if not self.size:
            return []
        longest: dict[int, int] = {}
        start = 0
        while start < len(words):
            end = start
            while end < len(words) and words[end] is not None:
                end += 1
            if end > start:
                segment = [w for w in words[start:end] if w is not None]
                for _, begin, stop in self.matcher(self._doc(segment)):
                    first = start + begin
                    longest[first] = max(longest.get(first, 0), stop - begin)
            start = end + 1
        kept = []
        position = 0
        while position < len(words):
            size = longest.get(position, 0)
            if size:
                kept.append((position, position + size))
                position += size
            else:
                position += 1
        return kept
