"""What ``harness vectors`` reads and reports: a corpus's words and the vectors' coverage.

Vectors are built from the texts of every split (no labels), so the words of valid and
test tweets get vectors too; the report says how many train and valid tokens a file
covers the way the taggers look words up (the word, else its lower-case form).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from core.corpus import Corpus
from core.tokenization import tokenize


def split_words(corpus: Corpus) -> dict[str, list[list[str]]]:
    """Per split, each tweet's word tokens (whitespace tokens left out, as no vector
    file can hold them)."""
    return {
        name: [
            [t.text for t in tokenize(tweet.text) if not any(c.isspace() for c in t.text)]
            for tweet in split.tweets
        ]
        for name, split in corpus.splits.items()
    }


@dataclass(frozen=True)
class Coverage:
    tokens: int
    covered: int

    @property
    def share(self) -> float:
        return self.covered / self.tokens if self.tokens else 0.0

    def __str__(self) -> str:
        return f"{self.covered}/{self.tokens} tokens ({100 * self.share:.1f}%)"


def coverage(word_lists: Sequence[Sequence[str]], words: Collection[str]) -> Coverage:
    """Tokens whose word, or its lower-case form, has a vector."""
    have = set(words)
    tokens = [w for ws in word_lists for w in ws]
    return Coverage(len(tokens), sum(w in have or w.lower() in have for w in tokens))
