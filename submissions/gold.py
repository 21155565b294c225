"""Load the reference side of a scoring run: a ProfNER corpus split, or gold TSVs.

Gold TSVs are in the submission format, which is why this lives beside the submission
reader: the same header recognition finds them, and the official scorer read gold and
predictions with the very same code.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from core.corpus import Split, load_corpus
from core.errors import HarnessError
from core.fileio import Bundle
from eval.records import GoldStandard, Note
from eval.scoring import gold_from_split
from eval.tsv import TASK_7A, TASK_7B, listed_tweet_ids, parse_7a, parse_7b
from submissions.sources import collect_task_files


def is_corpus(path: str | os.PathLike[str]) -> bool:
    """True for a folder or zip laid out like the ProfNER distribution (``txt-files/``)."""
    path = Path(path)
    if not (path.is_dir() or (path.is_file() and zipfile.is_zipfile(path))):
        return False
    with Bundle(path) as bundle:
        return any(
            name.startswith("txt-files/") or "/txt-files/" in name for name in bundle.names()
        )


def load_gold(
    path: str | os.PathLike[str], split: str = "valid"
) -> tuple[GoldStandard, Split | None]:
    """The gold to score against, and the corpus split when ``path`` is a corpus.

    * a corpus (zip or folder): the split ``split``, its tweets defining the universe;
    * otherwise a folder, zip or file of gold TSVs, recognised by header: the tweets are
      those of the 7a gold or, without one, those listed in the 7b gold (its ``-`` rows
      list the tweets without entities); ``split`` is not used.
    """
    if is_corpus(path):
        corpus_split = load_corpus(path, splits=[split]).gold_split(split)
        return gold_from_split(corpus_split, source=f"{path} ({split})"), corpus_split
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
    notes: list[Note] = list(files.notes)
    gold = GoldStandard(source=str(path), tweet_ids=tuple(tweet_ids), notes=notes)
    if task7a is not None:
        gold.labels, found = parse_7a(task7a.text, task7a.where, tweet_ids)
        notes += found
    if task7b is not None:
        gold.entities, found = parse_7b(task7b.text, task7b.where, tweet_ids)
        notes += found
    return gold, None
