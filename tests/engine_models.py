"""Tiny System 1 models saved like real runs, for the engine tests (ONNX Runtime,
OpenVINO): each engine loads them through the same code as a trained folder."""

from __future__ import annotations

from pathlib import Path

import torch

from harness import registry
from systems.neural.examples import make_examples
from systems.transformer import TransformerConfig, TransformerSystem
from tests.tiny_bert import save_tiny_bert

#: encoder blocks of the tiny BERT: enough for a first block and later ones
LAYERS = 3


def saved_system(folder: Path, corpus, maker=save_tiny_bert) -> Path:
    """An untrained System 1 over a tiny encoder, saved and loadable like a real run."""
    tweets = corpus.split("train").tweets
    kwargs = {"num_hidden_layers": LAYERS} if maker is save_tiny_bert else {}
    encoder = maker(folder / "encoder", [t.text for t in tweets], **kwargs)
    system = TransformerSystem(TransformerConfig(model=str(encoder)))
    torch.manual_seed(0)
    system.architecture = system.build(make_examples(tweets, system.codec, with_gold=True))
    return system.save(folder / "model")


def loaded(folder: Path, precision: str = "fp32", engine: str = "torch"):
    system = registry.load_saved(folder)
    system.show_progress = False
    return system.use_precision(precision, engine)


def hidden_state_gap(reference, other, tweets) -> float:
    """Largest difference of two loaded systems' encoder outputs at the real positions of
    a padded batch of ``tweets``."""
    batch = reference.collate(make_examples(tweets, reference.codec, False), False)
    mask = batch["attention_mask"]
    assert not bool(mask.all()), "the batch must contain padding"
    with torch.inference_mode():
        expected = reference.model.encoder(batch["input_ids"], mask).last_hidden_state
        got = other.model.encoder(batch["input_ids"], mask).last_hidden_state
    real = mask.bool()
    return float((expected[real] - got[real]).abs().max())
