"""Hyperparameter optimisation as the ProfNER winners ran it (paper sections 2.2.1, 2.3.1).

A study samples a system's options from a search-space file (:mod:`.space`), trains one
system per trial and reports validation F1 after every epoch (:mod:`.trainable`) so the
ASHA scheduler can stop weak trials early, with a tree-structured Parzen estimator (TPE)
proposing the next trial; Ray Tune runs it all, locally or on a cluster (:mod:`.study`).
The study folder then gets a CSV of the trials, the best configuration as a file
``harness run --config`` accepts (:mod:`.results`) and a plot like the paper's Figure 1
(:mod:`.figure`). :mod:`.seeds` runs the seed sweep that follows.

Ray is an optional dependency (``pip install ner-harness[tune]``): only :mod:`.study` and
:mod:`.trainable` import it, and only inside the functions that need it, so the rest of
the harness never pays for it.
"""
