"""The ONNX Runtime engine (``--engine onnxruntime``) on tiny encoders the tests build:
the export agrees with PyTorch, int8 quantises the planned MatMuls, exports are cached,
and every failure is one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import HarnessError
from systems.neural.engines import onnx_runtime as onnx_engine
from systems.neural.examples import make_examples
from tests.engine_models import LAYERS, hidden_state_gap, loaded, saved_system
from tests.tiny_bert import save_tiny_bert
from tests.tiny_encoders import save_tiny_xlmr

pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed")
onnx = pytest.importorskip("onnx", reason="the 'onnx' extra is not installed")


@pytest.mark.parametrize("maker", [save_tiny_bert, save_tiny_xlmr], ids=["bert", "xlm-r"])
def test_fp32_export_matches_pytorch_hidden_states_and_spans(maker, corpus, tmp_path):
    """Padded windows included: a mask or position-id bug shows here first."""
    folder = saved_system(tmp_path, corpus, maker)
    torch_system = loaded(folder)
    ort_system = loaded(folder, "fp32", "onnxruntime")
    assert isinstance(ort_system.model.encoder, onnx_engine.OrtEncoder)
    tweets = corpus.split("valid").tweets
    assert hidden_state_gap(torch_system, ort_system, tweets[:6]) <= 1e-4
    want, have = torch_system.predict(tweets), ort_system.predict(tweets)
    assert [(p.label, p.spans) for p in have] == [(p.label, p.spans) for p in want]
    assert ort_system.inference_path == "onnxruntime fp32"


def quantised_ops(path: Path) -> tuple[int, int]:
    """(weight MatMuls left in fp32, MatMulInteger nodes) of an exported file."""
    graph = onnx.load(str(path), load_external_data=False).graph
    return len(onnx_engine.weight_matmuls(graph)), sum(
        node.op_type == "MatMulInteger" for node in graph.node
    )


def test_int8_spares_the_first_block_and_the_down_projections(bert_model):
    encoder = loaded(bert_model).model.encoder
    fp32_matmuls, _ = quantised_ops(onnx_engine.encoder_file(encoder, "fp32"))
    per_block = fp32_matmuls // LAYERS  # packed QKV, attention output, up, down
    assert fp32_matmuls == per_block * LAYERS and per_block == 4

    kept, integer = quantised_ops(onnx_engine.encoder_file(encoder, "int8"))
    # first block whole, then one down-projection per later block
    assert kept == per_block + (LAYERS - 1)
    assert integer == fp32_matmuls - kept

    kept, integer = quantised_ops(onnx_engine.encoder_file(encoder, "int8-full"))
    assert (kept, integer) == (0, fp32_matmuls)


@pytest.mark.parametrize("precision", ["int8", "int8-full"])
def test_int8_paths_predict_every_tweet(bert_model, corpus, precision):
    tweets = corpus.split("valid").tweets
    system = loaded(bert_model, precision, "onnxruntime")
    predictions = system.predict(tweets)
    assert [p.tweet_id for p in predictions] == [t.id for t in tweets]
    assert system.inference_path == f"onnxruntime {precision}"


def test_an_export_is_made_once_per_model(bert_model, monkeypatch):
    loaded(bert_model, "fp32", "onnxruntime")  # cached by now, or made here

    def refuse(*_args, **_kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_engine, "export_encoder", refuse)
    loaded(bert_model, "fp32", "onnxruntime")


def test_a_changed_weight_means_a_new_export(bert_model):
    encoder = loaded(bert_model).model.encoder
    before = onnx_engine.weights_digest(encoder)
    with torch.no_grad():
        next(encoder.parameters()).add_(1e-3)
    assert onnx_engine.weights_digest(encoder) != before


def test_an_export_that_disagrees_with_pytorch_is_refused(bert_model, monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(onnx_engine, "PARITY_TOLERANCE", -1.0)
    with pytest.raises(HarnessError, match=r"differs from PyTorch by .* in hidden states"):
        loaded(bert_model, "fp32", "onnxruntime")
    assert not list((tmp_path / "onnx").iterdir())  # nothing half-made left in the cache


def test_an_exporter_failure_is_one_line(bert_model, monkeypatch, tmp_path):
    from transformers.exporters import OnnxExporter

    def broken(*_args, **_kwargs):
        raise RuntimeError("unsupported operator aten::frobnicate\n  deep traceback text")

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    monkeypatch.setattr(OnnxExporter, "export", broken)
    with pytest.raises(HarnessError) as caught:
        loaded(bert_model, "fp32", "onnxruntime")
    message = str(caught.value)
    assert message == (
        "engine onnxruntime: cannot export BertModel (unsupported operator aten::frobnicate)"
    )


def test_unsupported_engine_paths_are_one_line_errors(bert_model, monkeypatch):
    with pytest.raises(HarnessError, match="transformer: no onnxruntime bf16 inference path"):
        loaded(bert_model, "bf16", "onnxruntime")
    with pytest.raises(HarnessError, match="unknown engine 'tvm'"):
        loaded(bert_model, "fp32", "tvm")
    from importlib import metadata

    real_version = metadata.version

    def version(name: str) -> str:
        if name == "onnxscript":
            raise metadata.PackageNotFoundError(name)
        return real_version(name)

    monkeypatch.setattr(metadata, "version", version)
    with pytest.raises(HarnessError, match=r"needs onnxscript: pip install 'ner-harness\[onnx\]'"):
        loaded(bert_model, "fp32", "onnxruntime")


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_onnx_recurrent_layers_give_the_packed_states(kind, layers):
    from systems.neural.engines.onnx_recurrent import OrtRecurrent
    from systems.neural.recurrent import last_states, make_rnn, packed_states

    torch.manual_seed(0)
    rnn = make_rnn(kind, 6, 5, layers).eval()
    inputs, lengths = torch.randn(4, 9, 6), torch.tensor([9, 3, 1, 5])
    with torch.enable_grad():  # the packed path
        final, states = last_states(rnn, inputs, lengths), packed_states(rnn, inputs, lengths)
    on_ort = OrtRecurrent(rnn)
    torch.testing.assert_close(last_states(on_ort, inputs, lengths), final, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(packed_states(on_ort, inputs, lengths), states, atol=1e-5, rtol=1e-5)


def test_the_rnn_on_onnxruntime_predicts_what_it_predicts_on_torch(corpus, tmp_path):
    from systems.neural.engines.onnx_recurrent import OrtRecurrent
    from systems.rnn import RnnConfig, RnnSystem
    from tests.helpers import SMALL_RNN

    system = RnnSystem(RnnConfig(**SMALL_RNN))
    torch.manual_seed(0)
    train = make_examples(corpus.split("train").tweets, system.codec, with_gold=True)
    system.architecture = system.build(train)
    folder = system.save(tmp_path / "model")
    tweets = corpus.split("valid").tweets
    on_ort = loaded(folder, "fp32", "onnxruntime")
    layers = [m for m in on_ort.model.modules() if isinstance(m, OrtRecurrent)]
    assert len(layers) == 3  # character BiGRU, word BiGRU, BiLSTM pooler
    want = loaded(folder).predict(tweets)
    assert [(p.label, p.spans) for p in on_ort.predict(tweets)] == [
        (p.label, p.spans) for p in want
    ]
    with pytest.raises(HarnessError, match=r"rnn: no onnxruntime bf16 inference path"):
        loaded(folder, "bf16", "onnxruntime")


def test_onnxruntime_int8_quantises_the_wide_layers_and_runs_the_narrow_ones(corpus, tmp_path):
    """The RNN's ``onnxruntime int8``: the word BiGRU (wide enough for int8) quantised in
    PyTorch, the character BiGRU and the pooler on ONNX Runtime; the spans of torch int8."""
    from torch.ao.nn.quantized.dynamic import GRU as QuantizedGRU

    from systems.neural.engines.onnx_recurrent import OrtRecurrent
    from systems.neural.inference import MIN_INT8_RECURRENT_UNITS
    from systems.rnn import RnnConfig, RnnSystem
    from tests.helpers import SMALL_RNN

    wide = {**SMALL_RNN, "encoder_hidden": MIN_INT8_RECURRENT_UNITS}
    system = RnnSystem(RnnConfig(**wide))
    torch.manual_seed(0)
    train = make_examples(corpus.split("train").tweets, system.codec, with_gold=True)
    system.architecture = system.build(train)
    folder = system.save(tmp_path / "model")
    mixed = loaded(folder, "int8", "onnxruntime")
    model = mixed.model
    assert isinstance(model.encoder, QuantizedGRU)
    assert isinstance(model.char_rnn, OrtRecurrent) and isinstance(model.pooler, OrtRecurrent)
    tweets = corpus.split("valid").tweets
    want = loaded(folder, "int8").predict(tweets)
    assert [(p.label, p.spans) for p in mixed.predict(tweets)] == [(p.label, p.spans) for p in want]
