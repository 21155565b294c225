"""System 2 (``--system rnn``): sizes, batching, padding, training, persistence, vectors."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.system import config_from_dict
from core.tweets import Span, Tweet
from harness import registry
from harness.cli import main
from systems.neural.examples import make_examples
from systems.neural.vocabulary import NEWLINE, PAD_ID, UNK_ID, char_key
from systems.rnn import (
    RnnConfig,
    RnnModel,
    RnnSystem,
    parameter_breakdown,
    table3_parameters,
)
from tests.helpers import SMALL_RNN as SMALL


@pytest.fixture(scope="module")
def sample():
    corpus = load_corpus(SAMPLE_CORPUS)
    return corpus.split("train").tweets, corpus.split("valid").tweets


def small_system(**options) -> RnnSystem:
    return RnnSystem(RnnConfig(**{**SMALL, **options}))


def built(tweets, **options) -> tuple[RnnSystem, list]:
    system = small_system(**options)
    examples = make_examples(tweets, system.codec, with_gold=True)
    torch.manual_seed(0)
    system.architecture = system.build(examples)  # what fit() does first
    system.model.eval()
    return system, examples


def gru_params(inputs: int, hidden: int, gates: int = 3) -> int:
    """A bidirectional one-layer GRU (3 gates) or LSTM (4 gates), both bias vectors."""
    return 2 * gates * (hidden * inputs + hidden * hidden + 2 * hidden)


def test_table3_sizes_give_the_papers_parameter_count():
    counts = table3_parameters(vocabulary_size=38_000, num_chars=500, num_tags=5)
    print("\nTable 3, 38k words:", counts)
    assert counts["word_embedding"] == 38_000 * 300
    assert counts["char_embedding"] == 500 * 64
    assert counts["char_rnn"] == gru_params(64, 64)
    assert counts["encoder"] == gru_params(300 + 2 * 64, 512)
    assert counts["pooler_7a"] == gru_params(2 * 512, 64, gates=4)
    assert counts["classifier_7a"] == 128 * 2 + 2
    assert counts["feedforward_7b"] == 1024 * 128 + 128
    assert counts["classifier_7b"] == 128 * 5 + 5
    assert counts["crf_7b"] == 5 + 5 + 5 * 5
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert 1.45e7 < counts["total"] < 1.55e7  # the paper: ~1.5e7


def test_breakdown_covers_every_parameter(sample):
    system, _ = built(sample[0], encoder="lstm", encoder_layers=2)
    breakdown = system.parameter_breakdown()
    assert breakdown["total"] == system.parameter_count()
    assert breakdown == system.architecture["parameters"]


def test_collate_shapes_masks_and_ids(sample):
    system, _ = built(sample[0])
    tweets = [
        Tweet("1", "médicos médicos\nparo", 1, (Span(0, 7, "PROFESION"),)),
        Tweet("2", "", 0, ()),
        Tweet("3", "MÉDICOS zzqx", 0, ()),
    ]
    examples = make_examples(tweets, system.codec, with_gold=True)
    batch = system.collate(examples, with_gold=True)
    assert [len(e.tokens) for e in examples] == [4, 0, 2]
    assert batch["words"].shape == batch["mask"].shape == batch["tags"].shape == (3, 4)
    assert batch["lengths"].tolist() == [4, 1, 2]  # the empty tweet reads as one space token
    assert batch["mask"].sum(1).tolist() == [4, 1, 2]
    assert batch["lengths"].device.type == "cpu" and batch["char_lengths"].device.type == "cpu"
    words = batch["words"]
    assert words[0, 2] == system.word_ids[NEWLINE]
    assert words[2, 1] == UNK_ID and words[0, 0] == system.word_ids["médicos"]
    assert (words[~batch["mask"]] == PAD_ID).all()
    assert batch["tags"][0].tolist()[:2] == [system.codec.index["B-PROFESION"], 0]
    assert batch["labels"].tolist() == [1, 0, 0]
    # one character sequence per distinct lower-cased token: médicos, \n, paro, " ", zzqx
    assert batch["chars"].shape[0] == 5
    assert batch["char_index"][0, 0] == batch["char_index"][0, 1] == batch["char_index"][2, 0]
    first = batch["chars"][batch["char_index"][2, 0]]
    assert [system.chars[i] for i in first[first != PAD_ID].tolist()] == list("médicos")
    states = system.model.encode(batch)
    assert states.shape == (3, 4, 32)
    assert (states[~batch["mask"]] == 0).all()
    labels, tags = system.model.decode(batch)
    assert len(labels) == 3 and [len(t) for t in tags] == [4, 1, 2]


def test_long_tokens_keep_both_ends():
    assert char_key("HTTPS://T.CO/abcdefgh", 10) == "https" + "defgh"
    assert char_key("Médico", 10) == "médico"


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_padded_batch_predicts_like_one_by_one(sample, kind):
    system, examples = built(sample[0], encoder=kind, char_rnn=kind, pooler=kind)
    model = system.model
    with torch.inference_mode():
        batch = system.collate(examples, with_gold=False)
        assert len(set(batch["lengths"].tolist())) > 3  # really padded
        states = model.encode(batch)
        logits = model.label_logits(states, batch["lengths"])
        labels, tags = model.decode(batch)
        # whatever sits in the padding must not matter
        garbage = dict(batch)
        garbage["words"] = batch["words"].masked_fill(~batch["mask"], UNK_ID)
        garbage["char_index"] = batch["char_index"].masked_fill(~batch["mask"], 1)
        assert model.decode(garbage) == (labels, tags)
        for i, example in enumerate(examples):
            single = system.collate([example], with_gold=False)
            n = len(example.tokens)
            single_states = model.encode(single)
            torch.testing.assert_close(single_states[0, :n], states[i, :n])
            torch.testing.assert_close(
                model.label_logits(single_states, single["lengths"])[0], logits[i]
            )
            single_labels, single_tags = model.decode(single)
            assert single_labels[0] == labels[i] and single_tags[0] == tags[i]


def test_training_loss_decreases(sample):
    system = small_system(epochs=6, lr=1e-2, warmup_steps=0, batch_size=8, dropout=0.0)
    system.fit(sample[0])
    losses = [record["train_loss"] for record in system.history]
    assert len(losses) == 6
    assert losses[-1] < 0.5 * losses[0], losses


def test_save_load_gives_identical_model_and_predictions(sample, tmp_path):
    train, valid = sample
    system = small_system(epochs=2, lr=1e-2, warmup_steps=0, batch_size=8, lowercase=True)
    system.fit(train, valid)
    assert [r["epoch"] for r in system.history] == [1, 2]
    assert "valid_7a_f1" in system.history[0]
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, RnnSystem) and loaded.config == system.config
    assert loaded.words == system.words and loaded.chars == system.chars
    saved, restored = system.model.state_dict(), loaded.model.state_dict()
    assert saved.keys() == restored.keys()
    assert all(torch.equal(saved[k], restored[k]) for k in saved)
    assert loaded.predict(valid) == system.predict(valid)
    assert loaded.parameter_count() == system.parameter_count()
    (tmp_path / "model" / "vocabulary.json").unlink()
    with pytest.raises(HarnessError, match=r"vocabulary\.json missing"):
        registry.load_saved(tmp_path / "model")


def test_pretrained_vectors_initialise_the_embedding(sample, tmp_path):
    train = sample[0]
    system, _ = built(train, min_count=2)
    rare = next(w for w in system.words[4:] if w.isalpha() and w.islower())  # seen twice+
    tokens = [t.text for e in make_examples(train, system.codec, True) for t in e.tokens]
    # seen once, so <unk> without vectors; the file will hold only its lower-case form
    vocabulary = system.word_ids
    unseen = [w for w in tokens if w.isalpha() and {w, w.lower()}.isdisjoint(vocabulary)]
    single = next((w for w in unseen if w != w.lower()), unseen[0])
    dim = SMALL["word_dim"]
    lines = [
        "vectorsonly 1 " + " ".join(["0.5"] * (dim - 1)),
        "otrapalabra " + " ".join(["-0.5"] * dim),
        f"{rare} " + " ".join(["2"] * dim),
        f"{single.lower()} " + " ".join(["3"] * dim),
        "noesta " + " ".join(["4"] * dim),
    ]
    path = tmp_path / "tweets.vec"
    path.write_text(f"{len(lines)} {dim}\n" + "\n".join(lines) + "\n", encoding="utf-8")

    system, _ = built(train, min_count=2, vectors=str(path), vectors_vocab=2)
    embedding = system.model.word_embedding.weight.detach()
    assert single in system.word_ids  # rare, but the vectors cover it (lower-case form)
    assert {"vectorsonly", "otrapalabra"} <= set(system.word_ids)  # the file's first two
    assert "noesta" not in system.word_ids  # neither in train nor among the first two
    assert torch.equal(embedding[system.word_ids[rare]], torch.full((dim,), 2.0))
    assert torch.equal(embedding[system.word_ids[single]], torch.full((dim,), 3.0))
    assert embedding[system.word_ids["vectorsonly"], 0] == 1.0
    assert (embedding[PAD_ID] == 0).all()
    in_file = {line.split(" ")[0] for line in lines}
    coverage = system.architecture["vectors"]
    assert coverage["words"] == len(system.words) - 4  # the specials are not counted
    assert coverage["exact"] == sum(w in in_file for w in system.words) == 4
    assert coverage["covered"] == sum(w in in_file or w.lower() in in_file for w in system.words)
    assert json.dumps(system.architecture)  # architecture.json must stay JSON

    wrong = tmp_path / "wrong.vec"
    wrong.write_text("1 3\nde 1 2 3\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="3 dimensions, but 12"):
        built(train, vectors=str(wrong))
    foreign = tmp_path / "foreign.vec"
    rows = "".join(f"xq{i} " + " ".join(["1"] * dim) + "\n" for i in range(2))
    foreign.write_text(f"2 {dim}\n" + rows, encoding="utf-8")
    with pytest.raises(HarnessError, match=r"foreign\.vec: none of its 2 words is a training word"):
        built(train, vectors=str(foreign))


def test_options_from_cli_strings_pick_units_and_sizes(sample):
    values = {**{k: str(v) for k, v in SMALL.items()}, "encoder": "lstm", "pooler": "gru"}
    values.update(encoder_layers="2", vectors="none", dropout="0.5")
    config = config_from_dict(RnnConfig, values)
    assert isinstance(config, RnnConfig) and config.vectors is None
    system = RnnSystem(config)
    system.build(make_examples(sample[0], system.codec, with_gold=True))
    model = system.model
    assert isinstance(model, RnnModel)
    assert isinstance(model.encoder, torch.nn.LSTM) and model.encoder.num_layers == 2
    assert isinstance(model.pooler, torch.nn.GRU) and isinstance(model.char_rnn, torch.nn.GRU)
    assert model.encoder.dropout == 0.5
    assert parameter_breakdown(model)["total"] == system.parameter_count()
    with pytest.raises(HarnessError, match="must be one of gru, lstm"):
        config_from_dict(RnnConfig, {"encoder": "transformer"})
    assert registry.get("rnn") is RnnSystem


def test_harness_run_with_the_rnn_system(tmp_path):
    out = tmp_path / "run"
    options = [f"-o{k}={v}" for k, v in {**SMALL, "epochs": 1}.items()]
    args = ["run", "--system", "rnn", "--out", str(out), "--no-progress", *options]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["system"] == "rnn" and "7b" in metrics["scores"]["valid"]
    assert (out / "predictions" / "test" / "task7b.tsv").is_file()
    assert (out / "model" / "vocabulary.json").is_file()


def test_known_words_take_their_character_states_from_the_table(sample):
    """Prediction looks vocabulary words' character states up instead of running the
    character GRU: the same token states, the same spans, and unknown tokens still read."""
    train, valid = sample
    system, _ = built(train)
    unseen = Tweet("x1", "Zyxwvq trabaja como qwertyuiop en el hospital")
    tweets = [*valid, unseen]
    plain = system.predict(tweets)
    examples = make_examples(tweets, system.codec, with_gold=False)
    without = system.collate(examples, with_gold=False)
    system.use_precision("fp32")
    assert system.char_table is not None and len(system.char_table) > 100
    with_table = system.collate(examples, with_gold=False)
    # unknown tokens are still read by the character GRU, known ones are not
    assert 0 < with_table["chars"].shape[0] < without["chars"].shape[0]
    assert with_table["known_char_states"].shape[0] > 0
    model = system._rnn_model()
    with torch.inference_mode():
        assert torch.allclose(model.encode(with_table), model.encode(without), atol=1e-6)
    assert [(p.label, p.spans) for p in system.predict(tweets)] == [
        (p.label, p.spans) for p in plain
    ]


def test_training_drops_the_character_table(sample):
    train, _ = sample
    system = small_system(epochs=1).fit(train[:8])
    system.use_precision("fp32")
    assert system.char_table is not None
    system.fit(train[:8])
    assert system.char_table is None
