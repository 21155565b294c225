"""Submission files for ProfNER: write them, find and read them, validate them.

Pure I/O over :mod:`core.tweets` objects and :mod:`eval` tables; no machine-learning
framework is imported, so packaging and checking a submission is fast and works on
files made by any tool.

Entry points:

* :func:`write_submission` -- TSVs, CodaLab zips and a brat zip from predictions;
* :func:`read_system_output` -- the predictions under a path, as scorer tables;
* :func:`load_gold` / :func:`load_reference` -- a corpus split or gold TSVs, as the
  scorer's gold and the validator's tweets;
* :func:`validate` -- every problem of a submission, located, with a severity.
"""

from submissions.gold import Reference, is_corpus, load_gold, load_reference
from submissions.reading import read_system_output
from submissions.sources import SourceFile, TaskFiles, collect_task_files
from submissions.validation import Problem, validate
from submissions.writer import (
    OUTPUT_KEYS,
    render_7a_tsv,
    render_7b_tsv,
    write_submission,
)

__all__ = [
    "OUTPUT_KEYS",
    "Problem",
    "Reference",
    "SourceFile",
    "TaskFiles",
    "collect_task_files",
    "is_corpus",
    "load_gold",
    "load_reference",
    "read_system_output",
    "render_7a_tsv",
    "render_7b_tsv",
    "validate",
    "write_submission",
]
