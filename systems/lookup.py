"""The organisers' style of baseline: a dictionary of training mentions.

Every gold mention of the training data goes into a dictionary as its sequence of word
tokens (case-folded unless ``case_sensitive``), with the type it was most often given.
Prediction scans each tweet left to right and takes the longest dictionary entry that
starts at each token, so matches always fall on token boundaries and never overlap (the
harness's one matcher, ``systems.term_matcher``).
Task 7a is positive when any span is found.

``min_precision`` optionally drops entries that, in the training tweets, are annotated in
fewer than that fraction of their occurrences (e.g. a word that is usually not a
profession); the default 0 keeps every mention, as the organisers' baseline does.

``gazetteer`` adds the terms of gazetteers (``-o gazetteer=profner:PATH``, a term file)
where the training mentions lack them, typed as their file says or, untyped (the
organisers' occupations), as PROFESION; then matching folds accents as well as case, as
the gazetteer flags do. ``min_precision`` judges a gazetteer term by its training
occurrences too; one that never occurs in train is kept, nothing speaking against it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from core.errors import HarnessError, first_line
from core.fileio import atomic_write_text
from core.system import System, SystemConfig
from core.tokenization import Token, tokenize
from core.tweets import Prediction, Span, Tweet
from systems.gazetteer import ANY_TYPE, build_gazetteers, fold
from systems.term_matcher import TermMatcher

DICTIONARY_FILE = "dictionary.json"
#: the type of a gazetteer's untyped terms (occupations)
PROFESSION = "PROFESION"


@dataclass
class LookupConfig(SystemConfig):
    #: match mentions with their exact capitalisation (default: case-folded)
    case_sensitive: bool = False
    #: keep an entry only if annotated in at least this fraction of its training occurrences
    min_precision: float = 0.0
    #: ignore mentions longer than this many word tokens
    max_tokens: int = 8
    #: extra terms: comma-separated gazetteer sources (``profner:PATH``, term files;
    #: ``train``, the training mentions, is the dictionary itself); empty: none
    gazetteer: str = ""


Key = tuple[str, ...]


class LookupSystem(System):
    name = "lookup"
    description = (
        "Dictionary of training mentions, longest match on token boundaries "
        "(organisers' baseline); 7a positive when any span is found."
    )
    labels_from_spans = True
    Config = LookupConfig
    config: LookupConfig

    def __init__(self, config: LookupConfig | None = None):
        super().__init__(config)
        self.entries: dict[Key, str] = {}
        #: the matcher of the last entries matched against (they change only in ``fit``)
        self._matcher: TermMatcher | None = None
        self._matcher_terms: object = None

    # -- matching ------------------------------------------------------------------------

    def _words(self, text: str) -> list[Token]:
        return [t for t in tokenize(text) if not t.is_space]

    def _key(self, tokens: Sequence[Token]) -> Key:
        if self.config.gazetteer:  # as the gazetteer's terms are folded
            return tuple(fold(t.text) for t in tokens)
        if self.config.case_sensitive:
            return tuple(t.text for t in tokens)
        return tuple(t.text.casefold() for t in tokens)

    def _matches(
        self, words: Sequence[Token], entries: dict[Key, str] | set[Key]
    ) -> list[tuple[int, int]]:
        """Greedy longest matches as (first word, last word + 1) index pairs."""
        if self._matcher is None or self._matcher_terms is not entries:
            self._matcher, self._matcher_terms = TermMatcher(entries), entries
        return self._matcher.matches(list(self._key(words)))

    # -- System API --------------------------------------------------------------------------

    def fit(self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> LookupSystem:
        types = set(self.config.types)
        votes: dict[Key, Counter[str]] = defaultdict(Counter)
        for tweet in train:
            if tweet.spans is None:
                raise HarnessError(f"tweet {tweet.id}: training tweets need gold spans")
            words = self._words(tweet.text)
            for span in tweet.spans:
                if span.type not in types:
                    continue
                inside = [w for w in words if w.begin >= span.begin and w.end <= span.end]
                if inside and len(inside) <= self.config.max_tokens:
                    votes[self._key(inside)][span.type] += 1
        entries = {key: counts.most_common(1)[0][0] for key, counts in votes.items()}
        for key, etype in self._gazetteer_terms().items():
            entries.setdefault(key, etype)
        if self.config.min_precision > 0:
            entries = self._filter_by_precision(entries, votes, train)
        self.entries = entries
        return self

    def _gazetteer_terms(self) -> dict[Key, str]:
        """The ``gazetteer`` option's terms within ``max_tokens``, untyped ones as
        PROFESION (the organisers' gazetteer lists occupations)."""
        if not self.config.gazetteer:
            return {}
        types = tuple(self.config.types)
        terms = build_gazetteers(self.config.gazetteer, [], types).files.terms
        if any(etype == ANY_TYPE for etype in terms.values()) and PROFESSION not in types:
            raise HarnessError(
                f"lookup: -o gazetteer={self.config.gazetteer}: its untyped terms are "
                f"professions, and {PROFESSION} is not among the types ({', '.join(types)})"
            )
        return {
            key: PROFESSION if etype == ANY_TYPE else etype
            for key, etype in terms.items()
            if len(key) <= self.config.max_tokens
        }

    def _filter_by_precision(
        self, entries: dict[Key, str], votes: dict[Key, Counter[str]], train: Sequence[Tweet]
    ) -> dict[Key, str]:
        occurrences: Counter[Key] = Counter()
        keys = set(entries)
        for tweet in tqdm(
            train, desc="lookup: counting occurrences", disable=not self.show_progress
        ):
            words = self._words(tweet.text)
            for a, b in self._matches(words, keys):
                occurrences[self._key(words[a:b])] += 1

        def kept(key: Key) -> bool:
            if key not in votes:  # a gazetteer term, never annotated: unseen, or dropped
                return occurrences[key] == 0
            return sum(votes[key].values()) >= self.config.min_precision * max(occurrences[key], 1)

        return {key: etype for key, etype in entries.items() if kept(key)}

    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        predictions = []
        for tweet in tqdm(tweets, desc="lookup: predicting", disable=not self.show_progress):
            words = self._words(tweet.text)
            spans = [
                Span(words[a].begin, words[b - 1].end, self.entries[self._key(words[a:b])])
                for a, b in self._matches(words, self.entries)
            ]
            predictions.append(Prediction.from_spans(tweet.id, spans))
        return predictions

    def parameter_count(self) -> int:
        return len(self.entries)

    def save_model(self, folder: Path) -> None:
        rows = [{"tokens": list(k), "type": t} for k, t in sorted(self.entries.items())]
        atomic_write_text(folder / DICTIONARY_FILE, json.dumps(rows, ensure_ascii=False, indent=0))

    @classmethod
    def load_model(cls, folder: Path, config: LookupConfig) -> LookupSystem:  # type: ignore[override]
        path = folder / DICTIONARY_FILE
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
            entries = {tuple(r["tokens"]): r["type"] for r in rows}
        except FileNotFoundError:
            raise HarnessError(f"{path}: missing; the lookup model cannot be loaded") from None
        except OSError as err:
            raise HarnessError(f"{path}: cannot read ({err.strerror})") from None
        except (ValueError, KeyError, TypeError, RecursionError) as err:  # not JSON, odd rows
            raise HarnessError(f"{path}: malformed dictionary ({first_line(err)})") from None
        system = cls(config)
        system.entries = entries
        return system
