"""The Hugging Face reference recipe as a system: run_ner.py's labels, Trainer, spans.

The system must behave as the recipe does (first-piece labels, -100 elsewhere, the last
epoch's weights, O for words without a piece), save a folder that Hugging Face loads on
its own, and fail with one line on a folder it cannot use.
"""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForTokenClassification

from core.corpus import Split
from core.errors import HarnessError
from core.tweets import Tweet
from eval import score_predictions
from harness import registry
from systems.hf_token_classification import (
    IGNORED,
    HfTokenClassificationConfig,
    HfTokenClassificationSystem,
    WordPieceDataset,
)
from systems.neural.encoders import load_tokenizer
from systems.neural.examples import make_examples
from tests import test_transformer
from tests.tiny_bert import save_tiny_bert

corpus, texts, offline = test_transformer.corpus, test_transformer.texts, test_transformer.offline


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, texts):
    return save_tiny_bert(tmp_path_factory.mktemp("bert") / "encoder", texts)


def make(encoder, **options) -> HfTokenClassificationSystem:
    settings = {"model": str(encoder), "epochs": 1, "lr": 1e-3, "batch_size": 4, **options}
    return HfTokenClassificationSystem(HfTokenClassificationConfig(**settings))


def test_it_is_registered_with_run_ner_defaults():
    cls = registry.get("hf-token-classification")
    config = cls.Config()
    assert cls is HfTokenClassificationSystem
    assert (config.lr, config.epochs, config.batch_size) == (5e-5, 3.0, 8)
    assert (config.weight_decay, config.warmup_steps, config.max_grad_norm) == (0.0, 0, 1.0)


def test_each_word_is_labelled_on_its_first_piece_only(encoder, corpus):
    system = make(encoder)
    tokenizer = load_tokenizer(str(encoder))
    examples = make_examples(corpus.split("train").tweets[:8], system.codec, with_gold=True)
    dataset = WordPieceDataset(examples, tokenizer, 64)
    checked_later_pieces = 0
    for example, item in zip(examples, dataset.items, strict=True):
        encoded = tokenizer(
            [t.text for t in example.tokens],
            is_split_into_words=True,
            truncation=True,
            max_length=64,
        )
        words = encoded.word_ids()
        assert len(item["labels"]) == len(item["input_ids"]) == len(words)
        seen: set[int] = set()
        for word, label in zip(words, item["labels"], strict=True):
            if word is None or word in seen:
                checked_later_pieces += word is not None
                assert label == IGNORED
            else:
                assert label == example.tags[word]
                seen.add(word)
    assert checked_later_pieces > 0  # some word had more than one piece


def test_it_learns_its_training_tweets_and_records_each_epoch(encoder, corpus):
    train = corpus.split("train").tweets[:16]
    system = make(encoder, epochs=12, lr=3e-3).fit(train)
    report = score_predictions(system.predict(train), Split("train", train, True))
    assert report.as_dict()["7b"]["strict"]["f1"] > 0.5
    assert [r["epoch"] for r in system.history] == list(range(1, 13))
    assert all(r["seconds_per_step"] > 0 and r["train_loss"] >= 0 for r in system.history)
    assert system.history[-1]["train_loss"] < system.history[0]["train_loss"]


def test_a_frozen_table_keeps_its_pretrained_rows(encoder, corpus):
    system = make(encoder, embeddings="freeze", epochs=2, lr=1e-2)
    system.fit(corpus.split("train").tweets[:8])
    pretrained = AutoModelForTokenClassification.from_pretrained(str(encoder), num_labels=5)
    table = system._model().get_input_embeddings().weight
    assert torch.equal(table, pretrained.get_input_embeddings().weight)
    trained = dict(system._model().named_parameters())
    query = next(name for name in trained if name.endswith("layer.0.attention.self.query.weight"))
    assert not torch.equal(trained[query], dict(pretrained.named_parameters())[query])


def test_a_word_without_a_piece_is_tagged_o(encoder):
    system = make(encoder).fit([Tweet("1", "el médico", spans=[])])
    # the newline is a word token of its own; the WordPiece tokenizer drops it
    tweet = Tweet("2", "el médico\n\nenfermera")
    [example] = make_examples([tweet], system.codec, with_gold=False)
    [tags] = system._word_tags(system._model(), [example], torch.device("cpu"))
    tokens = example.tokens
    newline = next(i for i, t in enumerate(tokens) if t.text.strip() == "")
    assert len(tags) == len(tokens) and tags[newline] == 0


def test_the_saved_folder_loads_in_hugging_face_alone(encoder, corpus, tmp_path):
    train, valid = corpus.split("train").tweets[:12], corpus.split("valid").tweets
    system = make(encoder).fit(train)
    predictions = system.predict(valid)
    system.save(tmp_path / "model")
    assert registry.load_saved(tmp_path / "model").predict(valid) == predictions
    plain = AutoModelForTokenClassification.from_pretrained(str(tmp_path / "model" / "model"))
    assert [plain.config.id2label[i] for i in range(plain.config.num_labels)] == list(
        system.codec.labels
    )
    history = json.loads((tmp_path / "model" / "history.json").read_text())
    assert [r["epoch"] for r in history] == [1]


def test_unusable_folders_stop_with_one_line(encoder, corpus, tmp_path):
    system = make(encoder).fit(corpus.split("train").tweets[:4])
    system.save(tmp_path / "model")
    (tmp_path / "model" / "model" / "config.json").unlink()
    with pytest.raises(HarnessError, match=r"model/config.json missing") as caught:
        registry.load_saved(tmp_path / "model")
    assert "\n" not in str(caught.value)

    system.save(tmp_path / "other")
    meta = json.loads((tmp_path / "other" / "system.json").read_text())
    meta["config"]["scheme"] = "BILOU"
    (tmp_path / "other" / "system.json").write_text(json.dumps(meta))
    with pytest.raises(HarnessError, match="tag set does not match"):
        registry.load_saved(tmp_path / "other")

    with pytest.raises(HarnessError, match="does not exist") as caught:
        make(tmp_path / "nowhere").fit(corpus.split("train").tweets[:4])
    assert "\n" not in str(caught.value)

    with pytest.raises(HarnessError, match="not trained or loaded"):
        make(encoder).predict(corpus.split("valid").tweets)


def test_a_pickle_in_place_of_the_weights_is_never_opened(encoder, corpus, tmp_path):
    """Unpickling can run code: a saved model loads from safetensors or not at all."""
    from safetensors.torch import load_file

    system = make(encoder).fit(corpus.split("train").tweets[:4])
    system.save(tmp_path / "model")
    weights = tmp_path / "model" / "model"
    state = load_file(weights / "model.safetensors")
    (weights / "model.safetensors").unlink()
    torch.save(state, weights / "pytorch_model.bin")
    with pytest.raises(HarnessError, match="cannot load model") as caught:
        registry.load_saved(tmp_path / "model")
    assert "\n" not in str(caught.value)
