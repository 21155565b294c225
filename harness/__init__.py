"""ner-harness: train, score, package and benchmark systems for NER shared tasks.

The package root stays import-light (no torch) so that the scorer and the submission
tools start fast and can be used on predictions made by any other tool.
"""

__version__ = "0.1.0"
