"""Gazetteer match flags per token: a list of known mentions, matched longest-first.

The paper names gazetteers as the most promising next step for System 1, whose precision
stayed below its recall: a flag saying "this word starts a known profession" tells a
tagger what a lookup knows, and the tagger learns when to trust it.

Terms come from a user file (one per line, an optional tab-separated type) and/or from the
training tweets' own mentions (source ``train``). Matching folds case and accents, so
"Médicos" matches "medicos", and takes the longest term starting at each token.

A gazetteer built from the training mentions is always right on the tweets it came from,
and a model trained on such flags learns to trust them blindly. :func:`fold_flags`
therefore flags each training tweet with a gazetteer built from the *other* folds'
mentions, as unseen tweets will be; valid and test tweets are flagged with the mentions of
all training tweets. Valid and test gold never reach a gazetteer.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import HarnessError
from core.fileio import atomic_write_text
from core.tokenization import Token, tokenize
from core.tweets import Tweet
from systems.term_matcher import TermMatcher

#: the source name of the built-in gazetteer (training mentions, k-fold on train)
TRAIN_SOURCE = "train"
#: the type of terms a file lists without one
ANY_TYPE = "ANY"
O_FLAG = 0
FILE_NAME = "gazetteer.tsv"


def fold(text: str) -> str:
    """Case- and accent-folded form used for matching."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def term_key(text: str) -> tuple[str, ...]:
    """A term as the folded word tokens the harness's tokenizer makes of it."""
    return tuple(fold(t.text) for t in tokenize(text) if not t.text.isspace())


def flag_labels(types: Sequence[str]) -> list[str]:
    """Flag vocabulary: O, then B-/I- per type, the untyped ``ANY`` last."""
    labels = ["O"]
    for etype in (*types, ANY_TYPE):
        labels += [f"B-{etype}", f"I-{etype}"]
    return labels


@dataclass
class Gazetteer:
    """Terms (folded token tuples) with their type; ``flags`` tags a token sequence."""

    types: tuple[str, ...]
    terms: dict[tuple[str, ...], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = flag_labels(self.types)
        self.index = {label: i for i, label in enumerate(self.labels)}

    def __len__(self) -> int:
        return len(self.terms)

    @property
    def matcher(self) -> TermMatcher:
        """The terms' matcher, built once and again only when terms were added
        (``flags`` asks on every tweet)."""
        if getattr(self, "_matcher_of", None) != len(self.terms):
            self._matcher = TermMatcher(self.terms)
            self._matcher_of = len(self.terms)
        return self._matcher

    def add(self, text: str, etype: str) -> None:
        key = term_key(text)
        if key:
            self.terms.setdefault(key, etype)

    def merged(self, other: Gazetteer) -> Gazetteer:
        """This gazetteer's terms, then ``other``'s where this one lacks them."""
        result = Gazetteer(self.types, dict(self.terms))
        for key, etype in other.terms.items():
            result.terms.setdefault(key, etype)
        return result

    def flags(self, tokens: Sequence[Token]) -> list[int]:
        """Flag ids per token: B/I of the longest term starting at each unflagged token
        (terms never cross a whitespace token)."""
        folded = [None if t.text.isspace() else fold(t.text) for t in tokens]
        out = [O_FLAG] * len(tokens)
        for start, end in self.matcher.matches(folded):
            etype = self.terms[tuple(folded[start:end])]  # type: ignore[arg-type]
            out[start] = self.index[f"B-{etype}"]
            for j in range(start + 1, end):
                out[j] = self.index[f"I-{etype}"]
        return out

    def write(self, path: Path) -> None:
        lines = [" ".join(key) + "\t" + etype for key, etype in sorted(self.terms.items())]
        atomic_write_text(path, "".join(line + "\n" for line in lines))


def from_mentions(tweets: Iterable[Tweet], types: Sequence[str]) -> Gazetteer:
    """The gold mentions of ``tweets`` (of the given types) as terms."""
    gazetteer = Gazetteer(tuple(types))
    for tweet in tweets:
        for span in tweet.spans or ():
            if span.type in gazetteer.types:
                gazetteer.add(tweet.mention(span), span.type)
    return gazetteer


def gazetteer_text(path: Path) -> str:
    """A gazetteer file's text, or one line saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessError(f"{path}: no such gazetteer file") from None
    except UnicodeDecodeError:
        raise HarnessError(f"{path}: gazetteer is not UTF-8 text") from None
    except OSError as err:
        raise HarnessError(f"{path}: cannot read gazetteer ({err.strerror})") from None


def read_gazetteer(path: str | Path, types: Sequence[str]) -> Gazetteer:
    """A term file: ``term`` or ``term<TAB>TYPE`` per line; ``#`` starts a comment line."""
    path = Path(path)
    text = gazetteer_text(path)
    gazetteer = Gazetteer(tuple(types))
    allowed = (*types, ANY_TYPE)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) > 2:
            raise HarnessError(f"{path}:{number}: expected 'term' or 'term<TAB>TYPE'")
        etype = parts[1].strip() if len(parts) == 2 else ANY_TYPE
        if etype not in allowed:
            raise HarnessError(
                f"{path}:{number}: unknown type {etype!r} (known: {', '.join(allowed)})"
            )
        if not term_key(parts[0]):
            raise HarnessError(f"{path}:{number}: empty term")
        gazetteer.add(parts[0], etype)
    if not gazetteer.terms:
        raise HarnessError(f"{path}: gazetteer holds no terms")
    return gazetteer


def parse_sources(option: str) -> list[str]:
    """``-o gazetteer=``: comma-separated ``train``, ``profner[:PATH]`` (the organisers'
    gazetteer, ``systems.organisers_gazetteer``) and/or term files; empty is off."""
    return [part.strip() for part in option.split(",") if part.strip()]


@dataclass
class GazetteerSet:
    """The gazetteers of one fit: ``full`` (files and, with ``uses_train``, every
    training mention) flags unseen tweets; ``files`` alone plus the other folds' mentions
    flag the training tweets (see :func:`fold_flags`)."""

    full: Gazetteer
    files: Gazetteer
    uses_train: bool


def build_gazetteers(option: str, train: Sequence[Tweet], types: Sequence[str]) -> GazetteerSet:
    """The user's sources combined; ``train`` means the training tweets' mentions."""
    sources = parse_sources(option)
    from systems.organisers_gazetteer import (  # it builds on this module
        is_organisers_source,
        organisers_path,
        read_organisers_gazetteer,
    )

    files = Gazetteer(tuple(types))
    for source in sources:
        if is_organisers_source(source):
            files = files.merged(read_organisers_gazetteer(organisers_path(source), tuple(types)))
        elif source != TRAIN_SOURCE:
            files = files.merged(read_gazetteer(source, types))
    uses_train = TRAIN_SOURCE in sources
    full = files.merged(from_mentions(train, types)) if uses_train else files
    return GazetteerSet(full, files, uses_train)


def fold_flags(
    tweets: Sequence[Tweet],
    tokens: Sequence[Sequence[Token]],
    gazetteers: GazetteerSet,
    folds: int,
    seed: int,
) -> list[list[int]]:
    """Flags of training tweets: each fold's from the other folds' mentions (plus the
    files' terms), so no tweet is flagged with its own gold."""
    if not gazetteers.uses_train:
        return [gazetteers.full.flags(t) for t in tokens]
    if folds < 2:
        raise HarnessError(f"gazetteer_folds must be at least 2, got {folds}")
    order = list(range(len(tweets)))
    random.Random(seed).shuffle(order)
    fold_of = {index: position % folds for position, index in enumerate(order)}
    result: list[list[int]] = [[] for _ in tweets]
    for k in range(folds):
        others = [tweets[i] for i in range(len(tweets)) if fold_of[i] != k]
        gazetteer = gazetteers.files.merged(from_mentions(others, gazetteers.full.types))
        for i in range(len(tweets)):
            if fold_of[i] == k:
                result[i] = gazetteer.flags(tokens[i])
    return result


def read_saved(folder: Path, types: Sequence[str]) -> Gazetteer:
    """The gazetteer a trained model saved beside its weights (folded terms, typed)."""
    path = folder / FILE_NAME
    gazetteer = Gazetteer(tuple(types))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise HarnessError(f"{folder}: cannot load model ({FILE_NAME} missing)") from None
    for number, line in enumerate(lines, start=1):
        term, _, etype = line.partition("\t")
        if not term or etype not in (*types, ANY_TYPE):
            raise HarnessError(f"{path}:{number}: not a saved gazetteer line")
        gazetteer.terms[tuple(term.split(" "))] = etype
    return gazetteer
