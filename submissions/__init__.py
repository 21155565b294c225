"""Submission files for ProfNER: write them, find and read them, validate them.

Pure I/O over :mod:`core.tweets` objects and :mod:`eval` tables; no machine-learning
framework is imported, so packaging and checking a submission is fast and works on
files made by any tool.

Entry points:

* :func:`write_submission` -- TSVs, CodaLab zips and a brat zip from predictions;
* :func:`read_system_output` -- the predictions under a path, as scorer tables;
* :func:`load_gold` -- a corpus split or gold TSVs, as the scorer's reference;
* :func:`validate` -- every problem of a submission, located, with a severity.
"""

from submissions.gold import is_corpus, load_gold
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
    "SourceFile",
    "TaskFiles",
    "collect_task_files",
    "is_corpus",
    "load_gold",
    "read_system_output",
    "render_7a_tsv",
    "render_7b_tsv",
    "validate",
    "write_submission",
]
