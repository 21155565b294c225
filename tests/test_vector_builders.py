"""``harness vectors``: distilled and fastText vectors, written in a format the taggers load.

The distillation runs on a tiny random encoder the test builds, through the same loading
code as an installed one; the checks compare its vectors with the encoder's own states.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from harness.cli import main
from harness.word_vectors import coverage, split_words
from systems.neural.distill import distill_vectors, frequency_ordered
from systems.neural.encoders import load_pretrained_encoder, load_tokenizer
from systems.neural.vectors import read_vectors, write_vectors
from tests.tiny_bert import save_tiny_bert

WORDS = [["el", "médico", "trabaja"], ["el", "paro", "sigue"], ["médico", "el"]]


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    # "trabaja" occurs once, so the tiny vocabulary splits it into several pieces
    texts = [" ".join(ws) for ws in WORDS[1:]] * 3 + [" ".join(WORDS[0])]
    return save_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert", texts)


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_written_vectors_read_back_exactly_and_words_need_no_spaces(tmp_path):
    matrix = np.array([[0.5, -1.25], [3.0, 1e-3], [7.0, -7.0]], dtype=np.float32)
    words = ["de", "Médico", "👩‍⚕️"]
    path = write_vectors(tmp_path / "out.vec", words, matrix)
    back = read_vectors(path)
    assert back.words == words and np.array_equal(back.matrix, matrix)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "3 2"
    with pytest.raises(HarnessError, match="holds whitespace"):
        write_vectors(tmp_path / "bad.vec", ["two words", "x", "y"], matrix)
    assert not (tmp_path / "bad.vec").exists()


def test_a_line_with_more_values_is_a_mixed_dimension(tmp_path):
    path = tmp_path / "mixed.vec"
    path.write_text("3 3\nde 1 2 3\nla 1 2 3 4\nen 1 2 3\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"mixed\.vec:3: .*found 4 value\(s\) \(mixed"):
        read_vectors(path)
    glove = tmp_path / "glove.txt"  # header-less: a longer line is a number-led row too
    glove.write_text("de 1 2 3\nla 1 2 3 4\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=r"glove\.txt:2: .*mixed dimensions"):
        read_vectors(glove)
    spaced = tmp_path / "spaced.txt"  # GloVe words with a space still read
    spaced.write_text("de 1 2 3\nnew york 1 2 3\n", encoding="utf-8")
    assert read_vectors(spaced).words == ["de", "new york"]


def piece_means(encoder_folder, words: list[str]) -> dict[str, torch.Tensor]:
    """Each word's mean last-layer piece state in the encoding of ``words``."""
    tokenizer = load_tokenizer(str(encoder_folder))
    model, _ = load_pretrained_encoder(str(encoder_folder), show_progress=False)
    model.eval()
    encoded = tokenizer([words], is_split_into_words=True, return_tensors="pt")
    with torch.inference_mode():
        states = model(**encoded).last_hidden_state[0].double()
    ids = encoded.word_ids(0)
    return {
        w: states[[p for p, j in enumerate(ids) if j == i]].mean(dim=0) for i, w in enumerate(words)
    }


def test_the_tiny_encoder_splits_a_rare_word(encoder):
    assert len(load_tokenizer(str(encoder)).tokenize("trabaja")) > 1


def test_contextual_vectors_average_each_words_states_over_its_tweets(encoder, monkeypatch):
    monkeypatch.setattr("systems.neural.distill.cpu_supports_bf16", lambda: False)
    words, matrix = distill_vectors(str(encoder), WORDS, dim=0, show_progress=False)
    assert words == frequency_ordered(WORDS) == ["el", "médico", "paro", "sigue", "trabaja"]
    assert matrix.shape == (5, 32) and matrix.dtype == np.float32
    states = [piece_means(encoder, ws) for ws in WORDS]
    medico = (states[0]["médico"] + states[2]["médico"]) / 2
    el = (states[0]["el"] + states[1]["el"] + states[2]["el"]) / 3
    np.testing.assert_allclose(matrix[1], medico.numpy(), atol=1e-5)
    np.testing.assert_allclose(matrix[0], el.numpy(), atol=1e-5)
    np.testing.assert_allclose(matrix[4], states[0]["trabaja"].numpy(), atol=1e-5)
    _, isolated = distill_vectors(
        str(encoder), WORDS, method="isolated", dim=0, show_progress=False
    )
    np.testing.assert_allclose(
        isolated[1], piece_means(encoder, ["médico"])["médico"].numpy(), atol=1e-5
    )
    _, reduced = distill_vectors(str(encoder), WORDS, dim=3, show_progress=False)
    assert reduced.shape == (5, 3)
    np.testing.assert_allclose(reduced.mean(axis=0), 0, atol=1e-5)  # PCA centres


def test_distillation_refuses_what_it_cannot_do(encoder):
    with pytest.raises(HarnessError, match="has 32 dimensions"):
        distill_vectors(str(encoder), WORDS, dim=64, show_progress=False)
    with pytest.raises(HarnessError, match="cannot reduce 5 words to 6"):
        distill_vectors(str(encoder), WORDS, dim=6, show_progress=False)
    with pytest.raises(HarnessError, match="unknown method"):
        distill_vectors(str(encoder), WORDS, method="static", show_progress=False)  # type: ignore[arg-type]


def test_fasttext_vectors_are_frequency_ordered_and_reproducible():
    pytest.importorskip("gensim", reason="the 'vectors' extra (gensim) is not installed")
    from systems.fasttext_vectors import train_fasttext

    words, matrix = train_fasttext(WORDS * 4, dim=8, epochs=2, seed=3)
    assert words[0] == "el" and set(words) == {w for ws in WORDS for w in ws}
    assert matrix.shape == (len(words), 8) and matrix.dtype == np.float32
    again_words, again = train_fasttext(WORDS * 4, dim=8, epochs=2, seed=3)
    assert again_words == words and np.array_equal(again, matrix)
    with pytest.raises(HarnessError, match="no word occurs 99 times"):
        train_fasttext(WORDS, dim=8, min_count=99)


def test_coverage_counts_tokens_by_word_or_lower_case_form():
    seen = coverage([["El", "médico"], ["PARO", "x"]], ["el", "médico", "paro"])
    assert (seen.tokens, seen.covered) == (4, 3) and str(seen) == "3/4 tokens (75.0%)"


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_harness_vectors_commands_write_vectors_the_rnn_loads(encoder, tmp_path):
    pytest.importorskip("gensim", reason="the 'vectors' extra (gensim) is not installed")
    trained = tmp_path / "sample-ft.vec"
    result = invoke("vectors", "train", "--out", str(trained), "--dim", "8", "--epochs", "1")
    assert result.exit_code == 0, result.output
    assert "valid: covers" in result.output and "train: covers" in result.output
    distilled = tmp_path / "sample-tiny.vec"
    result = invoke(
        "vectors", "distill", str(encoder), "--out", str(distilled), "--dim", "8", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    splits = split_words(load_corpus(SAMPLE_CORPUS)).values()
    corpus_words = {w for lists in splits for words in lists for w in words}
    assert set(read_vectors(distilled).words) == corpus_words  # every split's words
    run = invoke(
        "run", "--system", "rnn", "--out", str(tmp_path / "run"),
        "-o", f"vectors={distilled}", "-o", "word_dim=8", "-o", "epochs=1",
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert (tmp_path / "run" / "model" / "vocabulary.json").exists()


def test_vectors_commands_fail_with_one_line(tmp_path):
    result = invoke("vectors", "distill", str(tmp_path / "no-encoder"), "--out", "x.vec")
    assert result.exit_code != 0
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    result = invoke("vectors", "train", "--corpus", str(tmp_path / "nope.zip"), "--out", "x.vec")
    assert result.exit_code != 0 and "nope.zip" in result.output
