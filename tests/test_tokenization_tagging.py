"""Tokenisation keeps entity boundaries; tags convert to spans and back exactly."""

from __future__ import annotations

import pytest

from core.corpus import load_corpus
from core.tagging import (
    resolve_overlaps,
    spans_to_tags,
    tag_labels,
    tags_to_spans,
)
from core.tokenization import Token, build_default_tokenizer, tokenize
from core.tweets import Span
from tests.corpus_factory import PROFNER_ZIP

#: Glued strings of the kinds found in ProfNER, with the mention that must be one token.
GLUED = [
    ('según los sanitarios"Han dicho', "sanitarios"),
    ("Científicos y médicos!#COVID19", "médicos"),
    ("la Guardia Civil.176 años", "Civil"),
    ("todos los políticos?Y sobre todo", "políticos"),
    ('españoles!"\nMinistro:"No no', "Ministro"),
    ("with green .director https://t.co/VmJ7TyZ99I", "director"),
    ("🏃🏽Médicos/profesores", "Médicos"),
    ("sanitarios covid-enfermer@, así como", "enfermer@"),
]


@pytest.mark.parametrize(("text", "mention"), GLUED)
def test_glued_mentions_become_tokens(text, mention):
    assert mention in [t.text for t in tokenize(text)]


def test_default_spacy_misses_most_glued_mentions():
    default = build_default_tokenizer()
    missed = [m for text, m in GLUED if m not in [t.text for t in tokenize(text, default)]]
    assert len(missed) >= 6  # the reason the extra rules exist


def test_token_offsets_index_the_text_exactly():
    text = "🏃🏽Médicos\n\ny  👩‍⚕️enfermeras https://t.co/abc EE.UU. @MinSanidad #COVID19"
    tokens = tokenize(text)
    assert all(text[t.begin : t.end] == t.text for t in tokens)
    assert "https://t.co/abc" in [t.text for t in tokens]
    assert "EE.UU." in [t.text for t in tokens]


def test_labels_per_scheme():
    assert tag_labels(["P"], "BIO") == ["O", "B-P", "I-P"]
    bilou = ["O", "B-P", "I-P", "L-P", "U-P", "B-S", "I-S", "L-S", "U-S"]
    assert tag_labels(["P", "S"], "BILOU") == bilou


@pytest.mark.parametrize("scheme", ["BIO", "BILOU"])
def test_round_trip(scheme):
    text = "El presidente del Gobierno y la enfermera, en paro."
    spans = [
        Span(3, 26, "PROFESION"),
        Span(32, 41, "PROFESION"),
        Span(43, 50, "SITUACION_LABORAL"),
    ]
    tokens = tokenize(text)
    tagging = spans_to_tags(tokens, spans, scheme)
    assert not tagging.misaligned and not tagging.dropped
    assert tags_to_spans(tokens, tagging.tags, scheme) == spans
    if scheme == "BILOU":
        assert "U-PROFESION" in tagging.tags and "L-PROFESION" in tagging.tags


def test_overlap_policy_keeps_the_longest_and_reports_the_rest():
    long_span, inner = Span(0, 20, "PROFESION"), Span(0, 9, "PROFESION")
    other = Span(25, 30, "SITUACION_LABORAL")
    result = resolve_overlaps([inner, long_span, other, other])
    assert result.kept == [long_span, other]
    assert result.overlapping == [inner]
    assert result.duplicates == [other]


def test_misaligned_span_is_widened_and_reported():
    tokens = [Token("enfermeras", 0, 10), Token("ya", 11, 13)]
    tagging = spans_to_tags(tokens, [Span(0, 8, "PROFESION")])
    assert tagging.tags == ["B-PROFESION", "O"]
    assert tagging.misaligned == [Span(0, 8, "PROFESION")]


def test_lenient_decoding_of_ill_formed_sequences():
    tokens = [Token(w, i * 3, i * 3 + 2) for i, w in enumerate(["aa", "bb", "cc", "dd"])]
    # I without B starts an entity; a type change closes the previous one
    assert tags_to_spans(tokens, ["I-P", "I-P", "I-S", "O"]) == [Span(0, 5, "P"), Span(6, 8, "S")]
    # BILOU: U is single, L closes, B right after B starts anew
    assert tags_to_spans(tokens, ["U-P", "B-P", "L-P", "B-P"], "BILOU") == [
        Span(0, 2, "P"),
        Span(3, 8, "P"),
        Span(9, 11, "P"),
    ]


def test_whitespace_tokens_never_start_or_end_an_entity():
    text = "médicos \n enfermeras"
    tokens = tokenize(text)
    tags = ["B-P"] + ["I-P"] * (len(tokens) - 1)
    assert tags_to_spans(tokens, tags) == [Span(0, len(text), "P")]
    tags = ["O"] * (len(tokens) - 1) + ["B-P"]
    tags[1] = "B-P"  # a whitespace token tagged B yields nothing on its own
    spans = tags_to_spans(tokens, tags)
    assert all(not text[s.begin : s.end].isspace() for s in spans)


@pytest.mark.skipif(not PROFNER_ZIP.exists(), reason=f"real ProfNER corpus not at {PROFNER_ZIP}")
@pytest.mark.parametrize("scheme", ["BIO", "BILOU"])
def test_every_real_entity_round_trips(scheme):
    corpus = load_corpus(PROFNER_ZIP)
    total = recovered = 0
    for split in ("train", "valid"):
        for tweet in corpus.split(split).tweets:
            if not tweet.spans:
                continue
            tokens = tokenize(tweet.text)
            tagging = spans_to_tags(tokens, tweet.spans, scheme)
            assert not tagging.misaligned
            back = set(tags_to_spans(tokens, tagging.tags, scheme))
            kept = resolve_overlaps(tweet.spans).kept
            total += len(kept)
            recovered += sum(1 for s in kept if s in back)
    assert recovered == total > 2400
