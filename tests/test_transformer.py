"""System 1 (``--system transformer``) on tiny randomly initialised BERTs, fully offline.

Each test builds its model folder from the data (tests/tiny_bert.py), so nothing is
downloaded; the BETO-sized parameter count is computed on the meta device (no weights).
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from transformers import BertConfig, BertModel

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.tokenization import tokenize
from core.tweets import Span, Tweet
from harness import registry
from harness.cli import main
from systems.neural.encoder_heads import (
    EncoderTagger,
    MultitaskCrfHead,
    SoftmaxHead,
    encoder_states,
)
from systems.neural.encoders import detach_pooler
from systems.neural.examples import make_examples
from systems.neural.subwords import SubwordEncoder, assign_words, plan_windows
from systems.transformer import TransformerConfig, TransformerSystem
from tests.helpers import descend
from tests.tiny_bert import build_vocab, save_tiny_bert

#: Tweets with word tokens a BERT tokenizer drops (newlines, a tab run, double spaces,
#: zero-width joiner and space) inside and next to entities, as (text, [(mention, type)]).
TRICKY = [
    (
        "Los 👩‍⚕️ médicos\ny enfermeras  trabajan",
        [("médicos", "PROFESION"), ("enfermeras", "PROFESION")],
    ),
    (
        "Sin trabajo\n\ndesde marzo 🏭 \u200dparado",
        [("Sin trabajo", "SITUACION_LABORAL"), ("parado", "SITUACION_LABORAL")],
    ),
    ("\u200b enfermera \ufe0f del\t hospital", [("enfermera \ufe0f del\t hospital", "PROFESION")]),
    ("\ufe0f\u200dmédico en paro", [("médico", "PROFESION"), ("paro", "SITUACION_LABORAL")]),
]


def tricky_tweets(copies: int = 1) -> list[Tweet]:
    tweets = []
    for copy in range(copies):
        for i, (text, mentions) in enumerate(TRICKY):
            spans = tuple(
                sorted(Span(text.index(m), text.index(m) + len(m), t) for m, t in mentions)
            )
            tweets.append(Tweet(f"{copy}{i}", text, 1, spans))
    return tweets


#: A document far longer than the tiny models' 128 positions.
LONG_TEXT = " ".join(
    f"el médico {i} trabaja en el hospital de la ciudad con su enfermera" for i in range(40)
)


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach the Hugging Face hub."""
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(SAMPLE_CORPUS)


@pytest.fixture(scope="module")
def texts(corpus) -> list[str]:
    return (
        [t.text for s in corpus.splits.values() for t in s.tweets]
        + [text for text, _ in TRICKY]
        + [LONG_TEXT]
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, texts) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", texts)


def make_system(model: Path, **options) -> TransformerSystem:
    settings = {"lr": 1e-3, "warmup_steps": 0, "epochs": 1, **options}
    return TransformerSystem(TransformerConfig(model=str(model), **settings))


def built(system: TransformerSystem, tweets: list[Tweet]) -> TransformerSystem:
    system.architecture = system.build(make_examples(tweets, system.codec, with_gold=True))
    return system


# -- model structure -----------------------------------------------------------------------


def test_shapes_of_a_batch(tiny, corpus):
    tweets = corpus.split("train").tweets[:3]
    system = built(make_system(tiny), tweets)
    model = system.model
    assert isinstance(model, EncoderTagger) and isinstance(model.head, MultitaskCrfHead)
    model.eval()
    examples = make_examples(tweets, system.codec, with_gold=True)
    batch = system.collate(examples, with_gold=True)
    words = max(len(e.tokens) for e in examples)
    assert (
        batch["input_ids"].shape[0] == 3
        and batch["input_ids"].shape == batch["attention_mask"].shape
    )
    assert (
        batch["word_index"].shape == batch["word_mask"].shape == batch["tags"].shape == (3, words)
    )
    assert batch["word_mask"].sum(1).tolist() == [len(e.tokens) for e in examples]
    pooled, features = model.head.features(encoder_states(model.encoder, batch), batch)
    assert pooled.shape == (3, 32) and features.shape == (3, words, 32)
    assert model.head.tagger.emissions(features).shape == (3, words, len(system.codec))
    assert model.head.classifier(pooled).shape == (3, 2)
    output = model(batch)
    assert output["loss"].shape == () and torch.isfinite(output["loss"])
    assert torch.allclose(output["loss"], output["loss_7a"] + output["loss_7b"])
    labels, tags = model.decode(batch)
    assert len(labels) == 3 and [len(t) for t in tags] == [len(e.tokens) for e in examples]


@pytest.mark.parametrize(
    ("head", "head_class", "own_7a", "extra"),
    [
        ("crf", MultitaskCrfHead, True, {"pooler", "tagger.crf.transitions"}),
        ("softmax", SoftmaxHead, False, {"classifier.0.weight"}),
        ("mlp", SoftmaxHead, False, {"classifier.0.weight", "classifier.3.weight"}),
    ],
)
def test_each_head_plugs_into_system_1_and_round_trips(
    tiny, corpus, tmp_path, head, head_class, own_7a, extra
):
    train, valid = corpus.split("train").tweets[:12], corpus.split("valid").tweets
    system = make_system(tiny, head=head, head_hidden=8).fit(train)
    assert isinstance(system.model.head, head_class)
    assert system.labels_from_spans is not own_7a
    names = {n for n, _ in system.model.head.named_parameters()}
    assert all(any(n.startswith(e) for n in names) for e in extra), names
    predictions = system.predict(valid)
    if not own_7a:  # 7a comes from the spans
        assert all(p.label == int(bool(p.spans)) for p in predictions)
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded.model.head, head_class) and loaded.predict(valid) == predictions


def test_a_saved_model_with_another_head_is_refused(tiny, corpus, tmp_path):
    system = make_system(tiny, head="softmax").fit(corpus.split("train").tweets[:4])
    system.save(tmp_path / "model")
    with pytest.raises(HarnessError, match="head does not match"):
        TransformerSystem.load_model(tmp_path / "model", TransformerConfig(model=str(tiny)))


def test_pooler_starts_from_the_pretrained_pooler(tiny, tmp_path, texts):
    system = built(make_system(tiny), tricky_tweets())
    pretrained = BertModel.from_pretrained(str(tiny))
    assert system.architecture["pretrained_pooler"] is True
    assert torch.equal(system.model.head.pooler.weight, pretrained.pooler.dense.weight)
    assert system.model.encoder.pooler is None  # replaced, not left unused
    bare = save_tiny_bert(tmp_path / "bare", texts, with_pooler=False)
    assert built(make_system(bare), tricky_tweets()).architecture["pretrained_pooler"] is False


def test_without_a_pretrained_pooler_7a_pools_the_mean_of_the_pieces(tmp_path, texts, corpus):
    bare = save_tiny_bert(tmp_path / "bare", texts, with_pooler=False)
    assert built(make_system(bare), tricky_tweets()).pooling == "mean"
    assert built(make_system(bare, pooling="cls"), tricky_tweets()).pooling == "cls"
    system = make_system(bare).fit(corpus.split("train").tweets[:8])
    assert system.architecture["pooling"] == "mean"
    model = system.model.eval()
    short, long = make_examples(
        [Tweet("a", "el médico"), Tweet("b", LONG_TEXT[:200])], system.codec, False
    )
    with torch.no_grad():

        def pooled(examples):
            batch = system.collate(examples, with_gold=False)
            hidden = model.encoder(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).last_hidden_state
            return hidden, batch, model.head.features(hidden, batch)[0]

        hidden, batch, alone = pooled([short])
        pieces = int(batch["attention_mask"][0].sum())
        expected = torch.tanh(model.head.pooler(hidden[0, :pieces].mean(0)))
        assert torch.allclose(alone[0], expected, atol=1e-5)
        # padding to a longer neighbour's length changes nothing
        assert torch.allclose(pooled([short, long])[2][0], alone[0], atol=1e-5)
    system.save(tmp_path / "model")
    loaded = TransformerSystem.load(tmp_path / "model")
    assert loaded.pooling == "mean"
    assert loaded.predict(corpus.split("valid").tweets) == system.predict(
        corpus.split("valid").tweets
    )


def test_the_heads_train_at_their_own_learning_rate(tiny, corpus):
    system = built(make_system(tiny, lr=1e-4, head_lr=5e-3), corpus.split("train").tweets[:4])
    optimizer = system.make_optimizer(system.model)
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    trainable = [p for p in system.model.parameters() if p.requires_grad]
    assert len(rate) == len(trainable)  # every trainable parameter once
    assert {rate[id(p)] for p in system.model.head.parameters()} == {5e-3}
    assert {rate[id(p)] for p in system.model.encoder.parameters() if p.requires_grad} == {1e-4}
    same = built(make_system(tiny, lr=1e-4), corpus.split("train").tweets[:4])
    assert {g["lr"] for g in same.make_optimizer(same.model).param_groups} == {1e-4}


def test_loss_decreases_on_a_small_batch(tiny, corpus):
    tweets = corpus.split("train").tweets[:8]
    system = built(make_system(tiny), tweets)
    model = system.model
    batch = system.collate(make_examples(tweets, system.codec, with_gold=True), with_gold=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def eval_loss() -> float:
        model.eval()
        with torch.no_grad():
            return model(batch)["loss"].item()

    before = eval_loss()
    model.train()
    descend(model, batch, optimizer, 25)
    assert eval_loss() < 0.5 * before


def crf_scores(crf, emissions: torch.Tensor, sequences: torch.Tensor) -> torch.Tensor:
    """The CRF's unnormalised score of every tag sequence (rows of ``sequences``)."""
    n = sequences.shape[1]
    score = crf.start_transitions[sequences[:, 0]] + crf.end_transitions[sequences[:, -1]]
    score = score + emissions[torch.arange(n), sequences].sum(1)
    return score + crf.transitions[sequences[:, :-1], sequences[:, 1:]].sum(1)


def test_crf_decoding_equals_brute_force_enumeration(tiny):
    system = built(make_system(tiny, scheme="BILOU"), tricky_tweets())
    tagger = system.model.head.tagger.eval()
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in (
            tagger.crf.transitions,
            tagger.crf.start_transitions,
            tagger.crf.end_transitions,
        ):
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    lengths = [1, 2, 3, 4, 4, 2]
    features = torch.randn(len(lengths), 4, 32, generator=generator)
    mask = torch.tensor([[j < n for j in range(4)] for n in lengths])
    with torch.no_grad():
        decoded = tagger.decode(features, mask)
        emissions = tagger.emissions(features)
    tags = range(len(system.codec))
    for row, n in enumerate(lengths):
        sequences = torch.tensor(list(itertools.product(tags, repeat=n)))
        with torch.no_grad():
            scores = crf_scores(tagger.crf, emissions[row, :n], sequences)
        assert decoded[row] == sequences[scores.argmax()].tolist()
        assert scores.topk(2).values.diff().abs().item() > 1e-4  # a unique best sequence


# -- dropped tokens, windows -----------------------------------------------------------------


def test_dropped_tokens_are_replaced_by_the_dummy(tiny):
    system = built(make_system(tiny), tricky_tweets())
    encoder = system.subwords
    tokenizer = system.tokenizer
    examples = make_examples(tricky_tweets(), system.codec, with_gold=True)
    word_lists = [[t.text for t in e.tokens] for e in examples]
    pieces = encoder.word_pieces(word_lists)
    for words, doc in zip(word_lists, pieces, strict=True):
        alone = [len(tokenizer(w, add_special_tokens=False)["input_ids"]) for w in words]
        assert doc.substituted == [j for j, n in enumerate(alone) if n == 0]
        assert all(doc.words[j] == "æ" for j in doc.substituted)
        assert min(doc.counts) >= 1 and len(doc.counts) == len(words)
    assert sum(len(doc.substituted) for doc in pieces) >= 6  # \n, \n\n, "  ", \t, ZWJ, ZWSP
    batch = encoder.encode(word_lists)
    dummy_id = tokenizer.convert_tokens_to_ids("æ")
    flat_ids = batch["input_ids"].reshape(-1)
    for d, doc in enumerate(pieces):
        assert int(batch["word_mask"][d].sum()) == len(word_lists[d])
        ids = flat_ids[batch["word_index"][d, : len(doc.words)]].tolist()
        assert [j for j, i in enumerate(ids) if i == dummy_id] == doc.substituted
        # every word is represented by its own first piece, never a special token
        firsts = [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in doc.words]
        assert ids == firsts


def test_spans_next_to_dropped_tokens_come_back_exact(tiny):
    """Overfit a few tweets: every predicted span must be the gold span, to the character."""
    train = tricky_tweets(copies=4)
    system = make_system(tiny, lr=3e-3, epochs=12, batch_size=4).fit(train)
    gold = tricky_tweets()
    predictions = system.predict(gold)
    assert [p.spans for p in predictions] == [t.spans for t in gold]
    assert [p.label for p in predictions] == [1, 1, 1, 1]


def test_plan_windows_respects_budget_stride_and_long_words():
    generator = torch.Generator().manual_seed(3)
    for _ in range(200):
        n = int(torch.randint(1, 40, (1,), generator=generator))
        counts = torch.randint(1, 6, (n,), generator=generator).tolist()
        budget = int(torch.randint(5, 20, (1,), generator=generator))
        stride = int(torch.randint(0, budget // 2 + 1, (1,), generator=generator))
        windows = plan_windows(counts, budget, stride)
        assert windows[0][0] == 0 and windows[-1][1] == n
        for (s1, e1), (s2, e2) in itertools.pairwise(windows):
            assert s1 < s2 <= e1 < e2  # contiguous, overlapping or adjacent, always advancing
            assert sum(counts[s2:e1]) <= stride
        for start, end in windows:
            assert sum(counts[start:end]) <= budget
        owners = assign_words(counts, windows)
        for j, w in enumerate(owners):
            assert windows[w][0] <= j < windows[w][1]
    assert plan_windows([2, 9, 2], budget=4, stride=2) == [(0, 1), (1, 2), (2, 3)]
    # the middle word of two overlapping windows belongs where it has context on both sides
    windows = plan_windows([1] * 6, budget=4, stride=2)
    assert windows == [(0, 4), (2, 6)]
    assert assign_words([1] * 6, windows) == [0, 0, 0, 1, 1, 1]


def test_windows_merge_to_the_unwindowed_features(tmp_path, texts):
    """With a context-free encoder, windowing must not change any word's feature vector."""
    folder = save_tiny_bert(
        tmp_path / "free", texts, context_free=True, max_position_embeddings=2048
    )
    long_tweet = Tweet("long", LONG_TEXT, 1, ())
    system = built(make_system(folder, embeddings="train"), [long_tweet])
    model = system.model.eval()
    words = [[t.text for t in tokenize(text)] for text in (LONG_TEXT, "el médico", "")]
    whole = SubwordEncoder(system.tokenizer, 2048, 0).encode(words)
    windowed = SubwordEncoder(system.tokenizer, 12, 4).encode(words)
    assert whole["input_ids"].shape[0] == 3 and windowed["input_ids"].shape[0] > 20
    assert torch.equal(whole["word_mask"], windowed["word_mask"])
    with torch.no_grad():
        pooled_whole, features_whole = model.head.features(
            encoder_states(model.encoder, whole), whole
        )
        pooled_windowed, features_windowed = model.head.features(
            encoder_states(model.encoder, windowed), windowed
        )
    mask = whole["word_mask"]
    assert torch.allclose(features_whole[mask], features_windowed[mask], atol=1e-6)
    assert torch.allclose(pooled_whole, pooled_windowed, atol=1e-6)


def test_documents_longer_than_the_model_are_not_truncated(tiny):
    long_tweet = Tweet("long", LONG_TEXT, 1, ())
    tokens = tokenize(LONG_TEXT)
    system = built(make_system(tiny, max_length=64, window_stride=16), [long_tweet])
    assert system.architecture["max_length"] == 64
    batch = system.collate(make_examples([long_tweet], system.codec, False), with_gold=False)
    assert batch["input_ids"].shape[0] > 5 and batch["input_ids"].shape[1] <= 64
    assert int(batch["word_mask"].sum()) == len(tokens)
    _, tags = system.model.eval().decode(batch)
    assert len(tags[0]) == len(tokens)
    # the model's own limit (128 positions) caps a larger request
    assert built(make_system(tiny, max_length=4096), [long_tweet]).architecture["max_length"] == 128


# -- training, persistence, CLI ---------------------------------------------------------------


def test_fit_is_reproducible_and_save_load_is_identical_offline(tiny, corpus, tmp_path):
    local = tmp_path / "backbone-copy"
    shutil.copytree(tiny, local)
    train, valid = corpus.split("train").tweets, corpus.split("valid").tweets
    system = make_system(local, epochs=2).fit(train, valid)
    again = make_system(local, epochs=2).fit(train, valid)
    assert [h["train_loss"] for h in system.history] == [h["train_loss"] for h in again.history]
    assert len(system.history) == 2 and "valid_7b_strict_f1" in system.history[0]
    predictions = system.predict(valid)
    assert again.predict(valid) == predictions

    system.save(tmp_path / "model")
    shutil.rmtree(local)  # the saved folder alone must be enough, without the hub
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        assert (tmp_path / "model" / "backbone" / name).is_file()
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, TransformerSystem)
    assert loaded.config == system.config
    assert loaded.parameter_count() == system.parameter_count()
    assert loaded.predict(valid) == predictions
    assert loaded.history == system.history


def test_harness_run_with_bilou_on_the_sample(tiny, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--system",
            "transformer",
            "--out",
            str(out),
            "--no-progress",
            "-o",
            f"model={tiny}",
            "-o",
            "epochs=1",
            "-o",
            "lr=1e-3",
            "-o",
            "scheme=BILOU",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["scores"]["valid"]) >= {"7a", "7b"}
    architecture = json.loads((out / "model" / "architecture.json").read_text())
    assert architecture["tags"][1:5] == ["B-PROFESION", "I-PROFESION", "L-PROFESION", "U-PROFESION"]
    assert (out / "predictions" / "test" / "task7b.tsv").is_file()


def test_beto_sized_model_has_the_papers_parameter_count():
    """BETO: BERT-base with a 31,002-piece vocabulary; the paper reports ~1.1e8 parameters."""
    config = BertConfig(
        vocab_size=31002,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
    )
    with torch.device("meta"):  # shapes only, no weights allocated
        encoder = BertModel(config)
        pooler = detach_pooler(encoder)
        model = EncoderTagger(encoder, MultitaskCrfHead(768, 5, 0.1, pooler_state=pooler))
    parameters = sum(p.numel() for p in model.parameters())
    assert abs(parameters - 1.1e8) / 1.1e8 < 0.02, parameters


# -- loading failures --------------------------------------------------------------------------


def one_line_error(model: str) -> str:
    with pytest.raises(HarnessError) as caught:
        built(make_system(Path(model)), tricky_tweets()[:1])
    message = str(caught.value)
    assert "\n" not in message and message.startswith("transformer:")
    return message


def test_loading_failures_are_one_clear_line(tmp_path):
    assert "does not exist" in one_line_error(str(tmp_path / "does-not-exist"))
    unreachable = one_line_error("no-such-org/no-such-model")
    assert "hub does not answer" in unreachable
    assert "harness encoders install multilingual-e5-small" in unreachable
    slow = tmp_path / "slow"  # a BERT whose only tokenizer is the pure-Python one
    save_tiny_bert(slow, ["a b"])
    (slow / "tokenizer.json").unlink()
    (slow / "vocab.txt").write_text("\n".join(build_vocab(["a b"])) + "\n", encoding="utf-8")
    (slow / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizerLegacy"}')
    assert "no fast tokenizer" in one_line_error(str(slow))


def test_loading_a_folder_without_backbone_is_a_clear_error(tiny, corpus, tmp_path):
    system = make_system(tiny).fit(corpus.split("train").tweets[:8])
    system.save(tmp_path / "model")
    shutil.rmtree(tmp_path / "model" / "backbone")
    with pytest.raises(HarnessError, match="backbone/ missing"):
        registry.load_saved(tmp_path / "model")
