"""``--system bert-softmax`` on a tiny randomly initialised BERT, fully offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from click.testing import CliRunner

from harness import registry
from harness.cli import main
from systems.bert_softmax import BertSoftmaxConfig, BertSoftmaxSystem
from systems.neural.encoder_heads import EncoderTagger, SoftmaxHead
from systems.neural.examples import make_examples
from tests import test_transformer
from tests.helpers import descend

# System 1's test fixtures: one thread, no hub access, the sample corpus, a tiny BERT
offline = test_transformer.offline
corpus, texts, tiny = test_transformer.corpus, test_transformer.texts, test_transformer.tiny


def make_system(model: Path, **options) -> BertSoftmaxSystem:
    settings = {"lr": 1e-3, "epochs": 1, "batch_size": 8, **options}
    return BertSoftmaxSystem(BertSoftmaxConfig(model=str(model), **settings))


def built(system: BertSoftmaxSystem, tweets) -> tuple[BertSoftmaxSystem, list]:
    examples = make_examples(tweets, system.codec, with_gold=True)
    torch.manual_seed(0)  # the head's initial weights
    system.architecture = system.build(examples)
    return system, examples


def test_defaults_are_the_papers_recipe():
    config = BertSoftmaxConfig()
    assert (config.lr, config.epochs, config.warmup_steps) == (5e-5, 4, 0)
    assert BertSoftmaxSystem.labels_from_spans


def test_loss_is_token_classification_with_other_pieces_ignored(tiny, corpus):
    """Our first-piece loss equals Hugging Face's recipe: logits on every piece, the
    word's label on its first piece and -100 (ignored) on the others and on specials."""
    tweets = corpus.split("train").tweets[:6]
    system, examples = built(make_system(tiny), tweets)
    model = system.model
    assert isinstance(model, EncoderTagger) and isinstance(model.head, SoftmaxHead)
    assert model.encoder.pooler is None
    assert "pretrained_pooler" not in system.architecture
    model.eval()
    batch = system.collate(examples, with_gold=True)
    pieces_per_row = batch["input_ids"].shape[1]
    assert batch["input_ids"].shape[0] == len(tweets)  # short tweets: one window each
    with torch.no_grad():
        hidden = model.encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        piece_logits = model.head.classifier(hidden)
        labels = torch.full(batch["input_ids"].shape, -100)
        flat = labels.view(-1)
        index = batch["word_index"][batch["word_mask"]]
        flat[index] = batch["tags"][batch["word_mask"]]
        assert (labels != -100).sum() < (batch["attention_mask"] == 1).sum()  # some ignored
        expected = torch.nn.functional.cross_entropy(
            piece_logits.reshape(-1, piece_logits.shape[-1]), labels.view(-1), ignore_index=-100
        )
        assert torch.allclose(model(batch)["loss"], expected, atol=1e-6)
        labels_7a, tags = model.decode(batch)
    assert [len(t) for t in tags] == [len(e.tokens) for e in examples]
    assert labels_7a == [int(any(t)) for t in tags]
    assert pieces_per_row <= system.architecture["max_length"]


def test_loss_decreases_on_a_small_batch(tiny, corpus):
    tweets = corpus.split("train").tweets[:8]
    system, examples = built(make_system(tiny, dropout=0.0), tweets)
    model = system.model
    batch = system.collate(examples, with_gold=True)
    optimizer = system.make_optimizer(model)
    assert isinstance(optimizer, torch.optim.AdamW)
    losses = descend(model, batch, optimizer, 20)
    assert losses[-1] < 0.3 * losses[0], losses


def test_fit_save_load_is_identical_offline(tiny, corpus, tmp_path):
    local = tmp_path / "encoder-copy"
    shutil.copytree(tiny, local)
    train, valid = corpus.split("train").tweets, corpus.split("valid").tweets
    system = make_system(local, epochs=2).fit(train, valid)
    assert [r["epoch"] for r in system.history] == [1, 2]
    predictions = system.predict(valid)
    assert all(p.label == int(bool(p.spans)) for p in predictions)  # 7a from spans
    system.save(tmp_path / "model")
    shutil.rmtree(local)  # the saved folder alone must be enough
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, BertSoftmaxSystem) and loaded.config == system.config
    saved, restored = system.model.state_dict(), loaded.model.state_dict()
    assert saved.keys() == restored.keys()
    assert all(torch.equal(saved[k], restored[k].to(saved[k].device)) for k in saved)
    assert loaded.predict(valid) == predictions


def test_harness_run_with_bert_softmax(tiny, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--system", "bert-softmax", "--out", str(out), "--no-progress"]
    for option in (f"model={tiny}", "epochs=1", "lr=1e-3"):
        args += ["-o", option]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["system"] == "bert-softmax" and "7a" in metrics["scores"]["valid"]
    assert (out / "model" / "backbone" / "tokenizer.json").is_file()
