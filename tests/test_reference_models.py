"""The untrained full-size architectures ``harness bench --reference`` times.

They stand for the paper's models, so their parameter counts must be those of the
architecture (Table 4's sizes), whatever the systems' training defaults do to a table.
"""

from __future__ import annotations

from harness import reference_models, registry
from tests import test_transformer

corpus, offline = test_transformer.corpus, test_transformer.offline


def test_the_reference_transformer_keeps_its_whole_piece_table(corpus, tmp_path, monkeypatch):
    small = {**reference_models.BETO_SHAPE, "vocab_size": 300, "hidden_size": 32}
    small.update(num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    monkeypatch.setattr(reference_models, "BETO_SHAPE", small)
    folder = reference_models.reference_transformer(tmp_path, corpus.split("train").tweets)
    system = registry.load_saved(folder)
    table = system.encoder().get_input_embeddings()
    encoder_config = system.encoder().config
    assert table.num_embeddings == encoder_config.vocab_size == len(system.tokenizer)
    assert system.piece_map is None
