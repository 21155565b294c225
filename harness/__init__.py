"""ner-harness: train, score, package and benchmark systems for NER shared tasks.

``harness`` is the top layer: the runner, the commands, tuning and benchmarking. It
builds on ``core`` (tweets, corpus, tags, the system contract), ``eval`` (the scorer),
``submissions`` (submission files) and ``systems``. The package root stays import-light
(no torch) so ``harness score`` starts fast.
"""

from core import __version__

__all__ = ["__version__"]
