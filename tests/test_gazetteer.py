"""Gazetteer flags: matching, term files, the k-fold rule and the no-leak rule.

A gazetteer built from training mentions is always right on the tweets it came from; the
k-fold flags and the no-leak test guard the two ways a model could be handed gold it
will not have on unseen tweets.
"""

from __future__ import annotations

import pytest

from core.errors import HarnessError
from core.tokenization import tokenize
from core.tweets import Span, Tweet
from harness import registry
from systems.gazetteer import (
    ANY_TYPE,
    FILE_NAME,
    Gazetteer,
    build_gazetteers,
    fold,
    fold_flags,
    from_mentions,
    read_gazetteer,
)
from systems.neural.examples import make_examples
from systems.neural.gazetteer_features import attach_training_flags, flag_batch
from systems.rnn import RnnConfig, RnnSystem, parameter_breakdown
from systems.transformer import TransformerConfig, TransformerSystem
from tests.helpers import SMALL_RNN
from tests.tiny_bert import save_tiny_bert

TYPES = ("PROFESION", "SITUACION_LABORAL")


def tweet(tweet_id: str, text: str, *mentions: tuple[str, str]) -> Tweet:
    spans = tuple(
        sorted(Span(text.index(m), text.index(m) + len(m), etype) for m, etype in mentions)
    )
    return Tweet(tweet_id, text, 1 if spans else 0, spans)


def labels(gazetteer: Gazetteer, text: str) -> list[tuple[str, str]]:
    """(token, flag label) of the non-space tokens of ``text``."""
    tokens = tokenize(text)
    flags = gazetteer.flags(tokens)
    pairs = zip(tokens, flags, strict=True)
    return [(t.text, gazetteer.labels[f]) for t, f in pairs if not t.is_space]


def test_matching_folds_case_and_accents_and_takes_the_longest_term():
    gazetteer = Gazetteer(TYPES)
    gazetteer.add("médicos", "PROFESION")
    gazetteer.add("personal", "PROFESION")
    gazetteer.add("personal sanitario", "PROFESION")
    gazetteer.add("en paro", "SITUACION_LABORAL")
    assert fold("MÉDICOS Ñandú") == "medicos nandu"
    assert labels(gazetteer, "Los MEDICOS y el Personal Sanitário, yo en paro") == [
        ("Los", "O"),
        ("MEDICOS", "B-PROFESION"),
        ("y", "O"),
        ("el", "O"),
        ("Personal", "B-PROFESION"),
        ("Sanitário", "I-PROFESION"),
        (",", "O"),
        ("yo", "O"),
        ("en", "B-SITUACION_LABORAL"),
        ("paro", "I-SITUACION_LABORAL"),
    ]
    # a line break between two words ends a term: "personal\nsanitario" is two lines
    assert labels(gazetteer, "personal\nsanitario")[0] == ("personal", "B-PROFESION")
    assert labels(gazetteer, "personal\nsanitario")[1] == ("sanitario", "O")


def test_term_files_take_types_comments_and_untyped_terms(tmp_path):
    path = tmp_path / "terms.tsv"
    path.write_text(
        "# professions\nenfermera\tPROFESION\n\nERTE\tSITUACION_LABORAL\nrepartidor\n",
        encoding="utf-8",
    )
    gazetteer = read_gazetteer(path, TYPES)
    assert gazetteer.terms == {
        ("enfermera",): "PROFESION",
        ("erte",): "SITUACION_LABORAL",
        ("repartidor",): ANY_TYPE,
    }
    assert labels(gazetteer, "Repartidor en ERTE") == [
        ("Repartidor", f"B-{ANY_TYPE}"),
        ("en", "O"),
        ("ERTE", "B-SITUACION_LABORAL"),
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("médico\tPROFESION\nchef\tCOCINERO\n", ":2: unknown type 'COCINERO'"),
        ("médico\tPROFESION\textra\n", ":1: expected 'term' or 'term<TAB>TYPE'"),
        ("ok\n \tPROFESION\n", ":2: empty term"),
        ("# only a comment\n", ": gazetteer holds no terms"),
    ],
)
def test_bad_term_files_stop_with_the_file_and_line(tmp_path, content, expected):
    path = tmp_path / "bad.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HarnessError) as info:
        read_gazetteer(path, TYPES)
    assert str(path) + expected in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(HarnessError, match="no such gazetteer file"):
        read_gazetteer(tmp_path / "absent.tsv", TYPES)


def many_tweets() -> list[Tweet]:
    """Each tweet has a profession only it mentions, and all share "enfermera"."""
    return [
        tweet(
            str(i),
            f"La enfermera y el oficio{i} del barrio",
            ("enfermera", "PROFESION"),
            (f"oficio{i}", "PROFESION"),
        )
        for i in range(12)
    ]


def test_training_flags_come_from_the_other_folds_only():
    tweets = many_tweets()
    tokens = [tokenize(t.text) for t in tweets]
    gazetteers = build_gazetteers("train", tweets, TYPES)
    flags = fold_flags(tweets, tokens, gazetteers, folds=3, seed=7)
    for t, toks, row in zip(tweets, tokens, flags, strict=True):
        by_text = {tok.text: gazetteers.full.labels[f] for tok, f in zip(toks, row, strict=True)}
        assert by_text[f"oficio{t.id}"] == "O", "a tweet was flagged with its own gold"
        assert by_text["enfermera"] == "B-PROFESION"  # other folds mention it too
    # the gazetteer for unseen tweets knows every training mention
    assert ("oficio3",) in gazetteers.full.terms
    with pytest.raises(HarnessError, match="gazetteer_folds must be at least 2"):
        fold_flags(tweets, tokens, gazetteers, folds=1, seed=7)


def test_a_term_file_flags_training_tweets_in_full(tmp_path):
    tweets = many_tweets()
    path = tmp_path / "terms.tsv"
    path.write_text("oficio4\tPROFESION\n", encoding="utf-8")
    gazetteers = build_gazetteers(f"train,{path}", tweets, TYPES)
    tokens = [tokenize(t.text) for t in tweets]
    flags = fold_flags(tweets, tokens, gazetteers, folds=3, seed=7)
    four = {tok.text: f for tok, f in zip(tokens[4], flags[4], strict=True)}
    assert gazetteers.full.labels[four["oficio4"]] == "B-PROFESION"  # the file is no gold


def small_rnn(**options) -> RnnSystem:
    settings = {**SMALL_RNN, "epochs": 1, "lr": 1e-2, "warmup_steps": 0, "batch_size": 4}
    return RnnSystem(RnnConfig(**{**settings, **options}))


def test_no_valid_or_test_gold_reaches_a_model_trained_on_train(tmp_path):
    train = many_tweets()
    valid = [tweet("v1", "Habló la astronauta del barrio", ("astronauta", "PROFESION"))]
    system = small_rnn(gazetteer="train", gazetteer_folds=3)
    system.fit(train, valid)
    assert ("astronauta",) not in system.gazetteer.terms
    assert system.gazetteer.terms == from_mentions(train, TYPES).terms
    system.save(tmp_path / "model")
    saved = (tmp_path / "model" / FILE_NAME).read_text(encoding="utf-8")
    assert "astronauta" not in saved and "oficio3\tPROFESION" in saved
    # the training examples' flags never hold their own unique mention
    examples = make_examples(train, system.codec, with_gold=True)
    attach_training_flags(system.config, train, examples, TYPES, seed=5)
    for example, t in zip(examples, train, strict=True):
        own = next(i for i, tok in enumerate(example.tokens) if tok.text == f"oficio{t.id}")
        assert example.features[own] == 0


def test_rnn_with_a_gazetteer_saves_loads_and_predicts_the_same(tmp_path):
    train = many_tweets()
    valid = [tweet("v1", "La enfermera y el oficio2", ("enfermera", "PROFESION"))]
    system = small_rnn(gazetteer="train", gazetteer_folds=2, epochs=2)
    system.fit(train, valid)
    assert system.architecture["gazetteer"]["terms"] == len(system.gazetteer)
    # O, then B-/I- of both types and of untyped terms: 7 rows of 32
    assert parameter_breakdown(system.model)["gazetteer"] == 7 * 32
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert loaded.gazetteer.terms == system.gazetteer.terms
    assert loaded.predict(valid) == system.predict(valid)
    (tmp_path / "model" / FILE_NAME).unlink()
    with pytest.raises(HarnessError, match=f"{FILE_NAME} missing"):
        registry.load_saved(tmp_path / "model")


def test_a_gazetteer_changes_what_the_rnn_reads():
    train = many_tweets()
    plain = small_rnn()
    plain.architecture = plain.build(make_examples(train, plain.codec, True))
    flagged = small_rnn(gazetteer="train")
    flagged.gazetteer = from_mentions(train, TYPES)
    flagged.architecture = flagged.build(make_examples(train, flagged.codec, True))
    assert "gazetteer" not in parameter_breakdown(plain.model)
    assert flagged.model.encoder.input_size == plain.model.encoder.input_size + 32


def test_flag_batches_pad_with_o():
    examples = make_examples(many_tweets()[:2], RnnSystem(RnnConfig()).codec, with_gold=False)
    examples[0].features = [3, 4]
    assert flag_batch(examples, 3).tolist() == [[3, 4, 0], [0, 0, 0]]


def test_transformer_adds_zero_initialised_flags_and_round_trips(tmp_path):
    train = many_tweets()
    folder = save_tiny_bert(tmp_path / "bert", [t.text for t in train])
    config = TransformerConfig(
        model=str(folder), epochs=1, lr=1e-3, warmup_steps=0, batch_size=4, gazetteer="train"
    )
    system = TransformerSystem(config)
    system.fit(train)
    head = system.model.head
    assert head.gazetteer is not None
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert loaded.gazetteer.terms == system.gazetteer.terms
    assert loaded.predict(train[:3]) == system.predict(train[:3])
    fresh = TransformerSystem(config)
    fresh.gazetteer = from_mentions(train, TYPES)
    fresh.architecture = fresh.build(make_examples(train, fresh.codec, True))
    assert not fresh.model.head.gazetteer.embedding.weight.any()  # starts as no gazetteer
    with pytest.raises(HarnessError, match="gazetteer features need head=crf"):
        softmax = TransformerSystem(
            TransformerConfig(model=str(folder), head="softmax", gazetteer="train")
        )
        softmax.fit(train[:4])
