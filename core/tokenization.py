"""Word tokenisation with spaCy's Spanish rules, tuned so entity boundaries are token
boundaries.

ProfNER's tweets glue words to punctuation, hashtags and emoji ("sanitarios\"Han",
"médicos!#COVID19", "Civil.176", "🏽Médicos"). spaCy's default Spanish tokenizer keeps such
strings whole, so a gold entity inside them cannot be expressed as token tags and is lost
on the way brat -> BIO -> brat. The extra rules below split them the way an annotator
does, without a model download (``spacy.blank("es")``). ``harness data`` measures the
effect on the real corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import spacy
from spacy.tokenizer import Tokenizer
from spacy.util import compile_infix_regex, compile_prefix_regex

#: Letters of Spanish words (any Unicode letter: no digits, no underscore).
_LETTER = r"[^\W\d_]"
_UPPER_OR_DIGIT = r"[A-ZÁÉÍÓÚÜÑ0-9]"

#: Infixes added to spaCy's Spanish defaults.
EXTRA_INFIXES: tuple[str, ...] = (
    # quote, exclamation, question, colon glued between two non-space characters
    r'(?<=\S)[!?¡¿"“”«»:;](?=\S)',
    # a full stop glued between a word and a capitalised word or a number: "Civil.176"
    rf"(?<={_LETTER}{_LETTER})\.(?={_UPPER_OR_DIGIT})",
    # a hyphen between letters, also when the word ends in an inclusive "@": "covid-enfermer@"
    rf"(?<={_LETTER})-(?={_LETTER})",
)

#: Prefixes added to spaCy's Spanish defaults.
EXTRA_PREFIXES: tuple[str, ...] = (
    # emoji skin-tone modifiers and variation selectors glued to the next word: "🏽Médicos"
    r"[\U0001F3FB-\U0001F3FF\uFE0F\u200D]",
    # a full stop glued to the start of a word: ".director"
    rf"\.(?={_LETTER})",
)


@dataclass(frozen=True)
class Token:
    """A word token with its code-point offsets into the tweet text (end exclusive)."""

    text: str
    begin: int
    end: int

    @property
    def is_space(self) -> bool:
        return self.text.isspace()


def build_tokenizer() -> Tokenizer:
    """A fresh spaCy Spanish tokenizer with the harness's extra affix rules."""
    nlp = spacy.blank("es")
    defaults = nlp.Defaults
    infixes = list(defaults.infixes or ()) + list(EXTRA_INFIXES)
    prefixes = list(defaults.prefixes or ()) + list(EXTRA_PREFIXES)
    tokenizer = nlp.tokenizer
    tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    return tokenizer


def build_default_tokenizer() -> Tokenizer:
    """spaCy's unmodified Spanish tokenizer, kept for measuring what the rules fix."""
    return spacy.blank("es").tokenizer


@lru_cache(maxsize=1)
def _shared_tokenizer() -> Tokenizer:
    return build_tokenizer()


def tokenize(text: str, tokenizer: Tokenizer | None = None) -> list[Token]:
    """Split ``text`` into word tokens with exact offsets.

    Whitespace runs that spaCy keeps as tokens (newlines, double spaces) stay tokens, so
    the tag sequence covers the text without gaps a model would have to guess about.
    """
    doc = (tokenizer or _shared_tokenizer())(text)
    return [Token(t.text, t.idx, t.idx + len(t.text)) for t in doc]
