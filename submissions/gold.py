"""Load the reference side of a scoring or validation run: a corpus split, or gold TSVs.

Gold TSVs are in the submission format, which is why this lives beside the submission
reader: the same header recognition finds them, and the official scorer read gold and
predictions with the very same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from core.corpus import Split, load_corpus
from core.errors import HarnessError
from core.fileio import Bundle, is_zip_path
from core.tweets import check_tweet_id
from eval.records import GoldStandard, Note
from eval.scoring import gold_from_split
from eval.tsv import (
    KNOWN_UNEVALUATED,
    TASK_7A,
    TASK_7B,
    listed_tweet_ids,
    numbered_lines,
    parse_7a,
    parse_7b,
)
from submissions.sources import collect_task_files


def is_corpus(path: str | os.PathLike[str]) -> bool:
    """True for a folder or zip laid out like the ProfNER distribution (``txt-files/``)."""
    path = Path(path)
    if not (path.is_dir() or is_zip_path(path)):
        return False
    with Bundle(path) as bundle:
        return any(
            name.startswith("txt-files/") or "/txt-files/" in name for name in bundle.names()
        )


@dataclass(frozen=True)
class Reference:
    """What a GOLD argument names, for ``harness score`` and ``harness validate`` alike.

    One loader for both commands, so that whatever scores also validates: a corpus
    split brings its tweets' texts (and gold, unless it is an unlabelled split such as
    test); gold TSVs bring gold and the tweet ids they list, but no texts.
    """

    #: The path as given, for messages.
    source: str
    #: How messages name the set of tweets: ``split 'valid'``, ``the gold TSVs in gold``.
    name: str
    tweet_ids: tuple[str, ...]
    #: Tweet id -> text; ``None`` for gold TSVs, which carry no texts.
    texts: dict[str, str] | None
    #: ``None`` for a corpus split without gold annotations.
    gold: GoldStandard | None
    #: The corpus split, ``None`` for gold TSVs.
    split: Split | None

    def require_gold(self) -> GoldStandard:
        """The gold to score against; a split without annotations is an error."""
        if self.gold is None:
            raise HarnessError(f"{self.source}: {self.name} has no gold annotations")
        return self.gold


def load_reference(path: str | os.PathLike[str], split: str = "valid") -> Reference:
    """The tweets (and gold, and texts, where they exist) that ``path`` names.

    * a corpus (zip or folder): the split ``split``, its tweets defining the universe;
    * otherwise a folder, zip or file of gold TSVs, recognised by header: the tweets are
      those of the 7a gold or, without one, those listed in the 7b gold (its ``-`` rows
      list the tweets without entities); ``split`` is not used and there are no texts.
    """
    if is_corpus(path):
        corpus_split = load_corpus(path, splits=[split]).split(split)
        gold = None
        if corpus_split.has_gold:
            gold = gold_from_split(corpus_split, source=f"{path} ({split})")
        return Reference(
            source=str(path),
            name=f"split '{split}'",
            tweet_ids=tuple(corpus_split.ids),
            texts={t.id: t.text for t in corpus_split.tweets},
            gold=gold,
            split=corpus_split,
        )
    gold = _gold_from_tsvs(path)
    return Reference(
        source=str(path),
        name=f"the gold TSVs in {path}",
        tweet_ids=gold.tweet_ids,
        texts=None,
        gold=gold,
        split=None,
    )


def load_gold(
    path: str | os.PathLike[str], split: str = "valid"
) -> tuple[GoldStandard, Split | None]:
    """The gold to score against, and the corpus split when ``path`` is a corpus (see
    :func:`load_reference` for what ``path`` may be)."""
    reference = load_reference(path, split)
    return reference.require_gold(), reference.split


def _gold_from_tsvs(path: str | os.PathLike[str]) -> GoldStandard:
    files = collect_task_files(path)
    files.raise_errors()
    task7a, task7b = files.single(TASK_7A), files.single(TASK_7B)
    if task7a is not None:
        defining, task = task7a, TASK_7A
    elif task7b is not None:
        defining, task = task7b, TASK_7B
    else:
        raise HarnessError(
            f"{path}: neither a ProfNER corpus (no txt-files/ folder) nor gold TSVs "
            "(a 7a or 7b TSV starting with its header)"
        )
    tweet_ids = listed_tweet_ids(defining.text, task)
    if not tweet_ids:
        raise HarnessError(f"{defining.where}: the gold lists no tweets")
    _check_listed_ids(defining.where, defining.text, tweet_ids)
    notes: list[Note] = list(files.notes)
    gold = GoldStandard(source=str(path), tweet_ids=tuple(tweet_ids), notes=notes)
    if task7a is not None:
        gold.labels, found = parse_7a(task7a.text, task7a.where, tweet_ids)
        notes += found
    if task7b is not None:
        gold.entities, found = parse_7b(
            task7b.text, task7b.where, tweet_ids, quiet_types=KNOWN_UNEVALUATED
        )
        notes += found
    return gold


def _check_listed_ids(where: str, text: str, tweet_ids: list[str]) -> None:
    """Refuse gold TSVs whose tweet ids hold control characters, naming the first such
    row: here they define the tweets, as text file names do in a corpus, and are held
    to the same rule (:func:`core.tweets.check_tweet_id`)."""
    listed = set(tweet_ids)
    for number, row in numbered_lines(text):
        tweet_id = row.split("\t", 1)[0].strip()
        if tweet_id in listed:
            check_tweet_id(tweet_id, f"{where}:{number}")
