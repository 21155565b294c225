"""``--system bilstm-cnn``: features, padding independence, the two-direction output layer,
training, optimiser choice, persistence and the CLI, on tiny sizes."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.tweets import Span, Tweet
from harness import registry
from harness.cli import main
from systems.bilstm_cnn import (
    BilstmCnnConfig,
    BilstmCnnModel,
    BilstmCnnSystem,
    casing,
    char_type,
)
from systems.neural.examples import make_examples
from systems.neural.vocabulary import UNK_ID

SMALL = {
    "word_dim": 8,
    "char_dim": 5,
    "char_filters": 6,
    "lstm_hidden": 7,
    "min_count": 1,
    "batch_size": 8,
}


@pytest.fixture(scope="module")
def sample():
    corpus = load_corpus(SAMPLE_CORPUS)
    return corpus.split("train").tweets, corpus.split("valid").tweets


def built(tweets, **options) -> tuple[BilstmCnnSystem, list]:
    system = BilstmCnnSystem(BilstmCnnConfig(**{**SMALL, **options}))
    examples = make_examples(tweets, system.codec, with_gold=True)
    torch.manual_seed(0)
    system.architecture = system.build(examples)
    system.model.eval()
    return system, examples


def test_casing_and_character_types():
    assert [casing(w) for w in ("OMS", "Médico", "médico", "iPhone", "2021", "A")] == [
        1,
        2,
        3,
        4,
        5,
        2,
    ]
    assert [char_type(c) for c in "Aé.#7$ "] == [1, 2, 3, 3, 4, 4, 4]


def test_collate_keeps_case_in_characters_and_adds_features(sample):
    system, _ = built(sample[0])
    tweets = [Tweet("1", "Gobierno gobierno", 1, (Span(0, 8, "PROFESION"),)), Tweet("2", "", 0, ())]
    batch = system.collate(make_examples(tweets, system.codec, True), with_gold=True)
    # lower-cased word ids, case-kept characters: two character rows for the same word id
    assert batch["words"][0, 0] == batch["words"][0, 1] != UNK_ID
    assert batch["char_index"][0, 0] != batch["char_index"][0, 1]
    assert batch["casing"][0].tolist() == [2, 3] and batch["casing"][1].tolist() == [5, 0]
    first = batch["char_index"][0, 0]
    length = int(batch["char_lengths"][first])
    assert batch["char_types"][first, :length].tolist() == [1] + [2] * 7
    assert (batch["char_types"][first, length:] == 0).all()
    assert batch["tags"][0].tolist() == [system.codec.index["B-PROFESION"], 0]
    labels, tags = system.model.decode(batch)
    assert [len(t) for t in tags] == [2, 1] and len(labels) == 2


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_padded_batch_predicts_like_one_by_one(sample):
    system, examples = built(sample[0], char_width=4)  # an even width pads unevenly
    model = system.model
    with torch.inference_mode():
        batch = system.collate(examples, with_gold=False)
        assert len(set(batch["lengths"].tolist())) > 3
        scores = model.log_probabilities(batch)
        for i, example in enumerate(examples):
            single = system.collate([example], with_gold=False)
            n = len(example.tokens) or 1
            torch.testing.assert_close(model.log_probabilities(single)[0, :n], scores[i, :n])


def test_output_is_the_sum_of_two_directions_and_the_loss_their_cross_entropy(sample):
    system, examples = built(sample[0][:4], dropout=0.0)
    model = system.model
    batch = system.collate(examples, with_gold=True)
    with torch.no_grad():
        hidden = model.hidden
        model.backward_output.weight.zero_()
        model.backward_output.bias.zero_()
        scores = model.log_probabilities(batch)
        # a zero backward layer gives a uniform distribution: log(1/T) added everywhere
        tags = len(system.codec)
        assert torch.allclose(scores.exp().sum(-1) * tags, torch.ones_like(scores[..., 0]))
        loss = model(batch)["loss"]
        mask = batch["mask"]
        expected = torch.nn.functional.cross_entropy(
            scores[mask] + torch.log(torch.tensor(float(tags))), batch["tags"][mask]
        ) + torch.log(torch.tensor(float(tags)))
        assert torch.allclose(loss, expected, atol=1e-5)
        assert model.lstm.hidden_size == hidden and model.lstm.bidirectional


def test_training_loss_decreases_with_nadam(sample):
    system = BilstmCnnSystem(BilstmCnnConfig(**{**SMALL, "epochs": 6, "dropout": 0.0}))
    system.fit(sample[0])
    losses = [record["train_loss"] for record in system.history]
    assert losses[-1] < 0.5 * losses[0], losses
    optimizer = system.make_optimizer(system.model)
    assert isinstance(optimizer, torch.optim.NAdam) and optimizer.defaults["lr"] == 0.0105
    scheduler = system.make_scheduler(optimizer, total_steps=10)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr()[0] == 0.0105  # the paper's fixed learning rate
    adamw = BilstmCnnSystem(BilstmCnnConfig(optimizer="adamw", schedule="linear"))
    assert isinstance(adamw.make_optimizer(system.model), torch.optim.AdamW)


def test_save_load_is_identical_and_7a_comes_from_spans(sample, tmp_path):
    train, valid = sample
    system = BilstmCnnSystem(BilstmCnnConfig(**{**SMALL, "epochs": 2, "casing": False}))
    system.fit(train, valid)
    predictions = system.predict(valid)
    assert all(p.label == int(bool(p.spans)) for p in predictions)
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, BilstmCnnSystem) and loaded.config == system.config
    assert isinstance(loaded.model, BilstmCnnModel) and not loaded.model.casing
    saved, restored = system.model.state_dict(), loaded.model.state_dict()
    assert saved.keys() == restored.keys()
    assert all(torch.equal(saved[k], restored[k]) for k in saved)
    assert loaded.predict(valid) == predictions
    (tmp_path / "model" / "vocabulary.json").unlink()
    with pytest.raises(HarnessError, match=r"vocabulary\.json missing"):
        registry.load_saved(tmp_path / "model")


def test_pretrained_vectors_start_the_word_embedding(sample, tmp_path):
    dim = SMALL["word_dim"]
    path = tmp_path / "v.txt"  # GloVe-style, lower-case words as the system looks them up
    path.write_text("médicos " + " ".join(["2"] * dim) + "\n", encoding="utf-8")
    system, _ = built(sample[0], vectors=str(path))
    row = system.model.word_embedding.weight[system.word_ids["médicos"]]
    assert torch.equal(row.detach(), torch.full((dim,), 2.0))
    assert system.architecture["vectors"]["exact"] == 1


def test_harness_run_with_bilstm_cnn(tmp_path):
    out = tmp_path / "run"
    options = [f"-o{k}={v}" for k, v in {**SMALL, "epochs": 1, "char_types": "no"}.items()]
    args = ["run", "--system", "bilstm-cnn", "--out", str(out), "--no-progress", *options]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["system"] == "bilstm-cnn" and "7a" in metrics["scores"]["valid"]
    assert (out / "model" / "vocabulary.json").is_file()
