"""The OpenVINO engine (``--engine openvino``) on tiny encoders the tests build: the
converted encoder agrees with PyTorch, int8 compresses the weights, conversions are
cached, and every failure is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core import machine
from core.errors import HarnessError
from systems.neural.engines import openvino_runtime as openvino_engine
from tests.engine_models import hidden_state_gap, loaded, saved_system
from tests.tiny_bert import save_tiny_bert
from tests.tiny_encoders import save_tiny_xlmr

ov = pytest.importorskip("openvino", reason="the 'openvino' extra is not installed")
pytest.importorskip("nncf", reason="the 'openvino' extra is not installed")


@pytest.mark.parametrize("maker", [save_tiny_bert, save_tiny_xlmr], ids=["bert", "xlm-r"])
def test_fp32_conversion_matches_pytorch_hidden_states_and_spans(maker, corpus, tmp_path):
    """Padded windows and more tweets than the traced batch of two: a mask bug or a
    shape frozen at conversion shows here."""
    folder = saved_system(tmp_path, corpus, maker)
    torch_system = loaded(folder)
    ov_system = loaded(folder, "fp32", "openvino")
    assert isinstance(ov_system.model.encoder, openvino_engine.OpenVinoEncoder)
    tweets = corpus.split("valid").tweets
    assert hidden_state_gap(torch_system, ov_system, tweets[:6]) <= 1e-4
    want, have = torch_system.predict(tweets), ov_system.predict(tweets)
    assert [(p.label, p.spans) for p in have] == [(p.label, p.spans) for p in want]
    assert ov_system.inference_path == "openvino fp32"


def weight_types(path: Path) -> set[str]:
    """Element types of the large constants (the weights) of an IR."""
    model = ov.Core().read_model(str(path))
    return {
        str(op.get_output_element_type(0))
        for op in model.get_ops()
        if op.get_type_name() == "Constant"
        and op.get_output_partial_shape(0).rank.get_length() == 2
        and op.get_output_shape(0)[0] * op.get_output_shape(0)[1] >= 32 * 32
    }


def test_int8_compresses_the_weights_and_keeps_the_hidden_states_close(bert_model, corpus):
    torch_system = loaded(bert_model)
    encoder = torch_system.model.encoder
    fp32_file = openvino_engine.encoder_file(encoder, "fp32")
    assert weight_types(fp32_file) == {"<Type: 'float32'>"}
    int8_file = openvino_engine.encoder_file(encoder, "int8")
    assert "<Type: 'uint8_t'>" in weight_types(int8_file)
    int8_system = loaded(bert_model, "int8", "openvino")
    tweets = corpus.split("valid").tweets
    gap = hidden_state_gap(torch_system, int8_system, tweets[:6])
    assert 0 < gap < 0.5  # quantised (not the fp32 file) and still the same encoder
    assert [p.tweet_id for p in int8_system.predict(tweets)] == [t.id for t in tweets]


@pytest.mark.skipif(not machine.cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_bf16_predicts_every_tweet(bert_model, corpus):
    tweets = corpus.split("valid").tweets
    system = loaded(bert_model, "bf16", "openvino")
    assert [p.tweet_id for p in system.predict(tweets)] == [t.id for t in tweets]
    assert system.inference_path == "openvino bf16"


def test_bf16_without_native_bf16_is_refused(bert_model, monkeypatch):
    from core import inference_paths

    monkeypatch.setattr(inference_paths, "cpu_supports_bf16", lambda: False)
    with pytest.raises(HarnessError, match="bf16: this CPU has no native bfloat16"):
        loaded(bert_model, "bf16", "openvino")


def test_a_conversion_is_made_once_per_model(bert_model, monkeypatch):
    loaded(bert_model, "fp32", "openvino")  # cached by now, or made here

    def refuse(*_args, **_kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(openvino_engine, "convert_encoder", refuse)
    loaded(bert_model, "fp32", "openvino")


def test_a_conversion_that_disagrees_with_pytorch_is_refused(bert_model, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(openvino_engine, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(HarnessError, match=r"engine openvino: .* differs from PyTorch by"):
        loaded(bert_model, "fp32", "openvino")
    assert not list((tmp_path / "openvino").iterdir())  # nothing half-made in the cache


def test_a_converter_failure_is_one_line(bert_model, monkeypatch, tmp_path):
    def broken(*_args, **_kwargs):
        raise RuntimeError("Cannot create Gather layer\n  deep traceback text")

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(ov, "convert_model", broken)
    with pytest.raises(HarnessError) as caught:
        loaded(bert_model, "fp32", "openvino")
    assert str(caught.value) == (
        "engine openvino: cannot convert BertModel (Cannot create Gather layer)"
    )


def test_unsupported_paths_are_one_line_errors(bert_model, corpus, monkeypatch, tmp_path):
    with pytest.raises(HarnessError, match="no openvino int8-full inference path"):
        loaded(bert_model, "int8-full", "openvino")
    from systems.neural.examples import make_examples
    from systems.rnn import RnnConfig, RnnSystem
    from tests.helpers import SMALL_RNN

    rnn = RnnSystem(RnnConfig(**SMALL_RNN))
    rnn.architecture = rnn.build(make_examples(corpus.split("train").tweets, rnn.codec, True))
    with pytest.raises(HarnessError, match="rnn: no openvino fp32 inference path"):
        loaded(rnn.save(tmp_path / "rnn"), "fp32", "openvino")
    monkeypatch.setattr(machine, "missing_packages", lambda packages: ["nncf"])
    with pytest.raises(HarnessError, match=r"needs nncf: pip install 'ner-harness\[openvino\]'"):
        loaded(bert_model, "fp32", "openvino")


def test_the_encoder_output_is_copied_out_of_the_request(bert_model, corpus):
    """The request reuses its output buffer: two calls must not share one tensor."""
    system = loaded(bert_model, "fp32", "openvino")
    encoder = system.model.encoder
    ids = torch.randint(3, 50, (1, 7))
    first = encoder(ids, torch.ones_like(ids)).last_hidden_state
    kept = first.clone()
    encoder(torch.randint(3, 50, (1, 7)), torch.ones_like(ids))
    assert torch.equal(first, kept)


def test_the_pytorch_encoder_is_gone_before_the_engine_loads_its_copy(bert_model, monkeypatch):
    """Both in memory at once put a BETO-sized predictor over 1 GiB."""
    system = loaded(bert_model)
    seen = []
    real = openvino_engine.load_encoder

    def spy(path, precision, config=None):
        seen.append(system.model.encoder)
        return real(path, precision, config)

    monkeypatch.setattr(openvino_engine, "load_encoder", spy)
    system.use_precision("int8", "openvino")
    assert seen == [None]
    assert isinstance(system.model.encoder, openvino_engine.OpenVinoEncoder)


@pytest.mark.skipif(not machine.cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_the_bf16_file_stores_16_bit_weights(bert_model):
    """Compiling bf16 from fp32 weights held both copies at once (see half_weights)."""
    encoder = loaded(bert_model).model.encoder
    assert "<Type: 'float16'>" in weight_types(openvino_engine.encoder_file(encoder, "bf16"))
