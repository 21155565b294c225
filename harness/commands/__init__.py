"""One module per ``harness`` sub-command, each exposing a click ``command``."""
