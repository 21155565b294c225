"""The bottom layer: what every other package of the harness speaks.

Tweets, spans and predictions; reading a corpus; word tokens and BIO/BILOU tags; the one
error type users see; atomic file writing; and the contract every system implements.
Nothing here imports torch, the scorer, the submission tools or a system, so each of
those can build on it without an import cycle (the order is checked by ``lint-imports``).
"""

__version__ = "0.1.0"
