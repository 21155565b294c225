"""Pieces the neural systems share: word-level examples, the CRF tagging head, the
training loop and the fit/predict/save/load machinery. Each system module only defines
its encoder, its 7a head and how it batches word tokens.
"""
