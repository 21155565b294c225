"""The fast CPU path (``use_precision``): which layers int8 quantises, and that a
quantised model still predicts through the CLI."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from torch import nn
from torch.ao.nn.quantized import dynamic as quantized

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from harness.cli import main
from systems.neural.examples import make_examples
from systems.neural.inference import int8_linear_layers, optimize_for_cpu, transformer_blocks
from systems.rnn import RnnConfig, RnnSystem
from systems.transformer import TransformerConfig, TransformerSystem
from tests.helpers import SMALL_RNN
from tests.tiny_bert import save_tiny_bert


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(SAMPLE_CORPUS)


@pytest.fixture(scope="module")
def transformer(corpus, tmp_path_factory) -> TransformerSystem:
    """An untrained System 1 over a three-block tiny BERT (real module names and shapes)."""
    tweets = corpus.split("train").tweets
    folder = save_tiny_bert(
        tmp_path_factory.mktemp("tiny") / "bert",
        [t.text for t in tweets],
        num_hidden_layers=3,
    )
    system = TransformerSystem(TransformerConfig(model=str(folder)))
    torch.manual_seed(0)
    system.architecture = system.build(make_examples(tweets, system.codec, with_gold=True))
    system.model.eval()
    return system


def names_of(model: nn.Module, kind: type) -> set[str]:
    return {name for name, module in model.named_modules() if type(module) is kind}


def test_int8_spares_the_first_block_the_down_projections_and_the_heads(transformer):
    model = transformer.model
    blocks = [name for name, _ in transformer_blocks(model)]
    assert blocks == [f"encoder.encoder.layer.{i}" for i in range(3)]
    chosen = set(int8_linear_layers(model))
    expected = {
        f"encoder.encoder.layer.{i}.{leaf}"
        for i in (1, 2)
        for leaf in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
            "intermediate.dense",
        )
    }
    assert chosen == expected
    fp32 = {n for n in names_of(model, nn.Linear)}
    assert "encoder.encoder.layer.1.output.dense" in fp32 - chosen  # down-projection
    assert {"head.pooler", "head.tagger.classifier"} <= fp32 - chosen  # task heads


def test_int8_and_int8_full_quantise_the_planned_layers(transformer, corpus):
    tweets = corpus.split("valid").tweets[:8]
    reference = transformer.model
    int8 = optimize_for_cpu(reference, "int8")
    assert names_of(int8, quantized.Linear) == set(int8_linear_layers(reference))
    assert "encoder.encoder.layer.0.attention.self.query" in names_of(int8, nn.Linear)

    full = optimize_for_cpu(reference, "int8-full")
    assert not names_of(full, nn.Linear)  # every Linear layer quantised
    assert type(reference.head.pooler) is nn.Linear  # the fp32 model is left intact

    try:
        for model in (int8, full):
            transformer.model = model
            predictions = transformer.predict(tweets)
            assert [p.tweet_id for p in predictions] == [t.id for t in tweets]
    finally:
        transformer.model = reference


def test_quantised_encoder_stays_close_to_fp32(transformer, corpus):
    """Same input, hidden states of the int8 encoder within a few percent of fp32."""
    tweets = corpus.split("valid").tweets[:4]
    ids = transformer.tokenizer([t.text for t in tweets], padding=True, return_tensors="pt")
    if transformer.piece_map is not None:  # the rows of a table cut to the corpus
        ids["input_ids"] = transformer.piece_map(ids["input_ids"])
    with torch.no_grad():
        exact = transformer.model.encoder(**ids).last_hidden_state
        approx = optimize_for_cpu(transformer.model, "int8").encoder(**ids).last_hidden_state
    relative = (approx - exact).norm() / exact.norm()
    assert 0 < relative < 0.05


def test_rnn_int8_quantises_the_wide_recurrent_layers_only(corpus):
    """The word BiGRU as wide as the int8 rule asks; the character GRU and the pooler
    narrower (as in Table 3's RNN), so they stay fp32 like the heads."""
    from systems.neural.inference import MIN_INT8_RECURRENT_UNITS

    tweets = corpus.split("train").tweets
    config = RnnConfig(**{**SMALL_RNN, "encoder_hidden": MIN_INT8_RECURRENT_UNITS})
    system = RnnSystem(config)
    system.architecture = system.build(make_examples(tweets, system.codec, with_gold=True))
    recurrent = names_of(system.model, nn.GRU) | names_of(system.model, nn.LSTM)
    linear = names_of(system.model, nn.Linear)
    model = optimize_for_cpu(system.model, "int8")
    assert recurrent == {"char_rnn", "encoder", "pooler"}
    assert names_of(model, quantized.GRU) | names_of(model, quantized.LSTM) == {"encoder"}
    assert names_of(model, nn.GRU) | names_of(model, nn.LSTM) == {"char_rnn", "pooler"}
    assert names_of(model, nn.Linear) == linear  # feed-forward and heads stay fp32


def test_unknown_and_unsupported_precisions_are_one_line_errors(transformer):
    with pytest.raises(HarnessError, match="unknown precision 'int4'"):
        optimize_for_cpu(transformer.model, "int4")


def test_predict_with_int8_from_the_cli(tmp_path):
    run = tmp_path / "run"
    options = [f"-o{k}={v}" for k, v in {**SMALL_RNN, "epochs": 1}.items()]
    runner = CliRunner()
    args = ["run", "--system", "rnn", "--out", str(run), "--no-progress", *options]
    assert runner.invoke(main, args, catch_exceptions=False).exit_code == 0
    out = tmp_path / "int8"
    args = ["predict", str(run / "model"), "--split", "valid", "--precision", "int8"]
    result = runner.invoke(main, [*args, "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "valid: 7a F1" in result.output and "7b strict F1" in result.output
    assert (out / "task7b.tsv").is_file() and (out / "task7a.tsv").is_file()
    args = ["predict", str(run / "model"), "--split", "valid", "--precision", "auto"]
    result = runner.invoke(main, [*args, "--out", str(tmp_path / "auto"), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "precision auto: int8" in result.output

    lookup = tmp_path / "lookup"
    args = ["run", "--system", "lookup", "--out", str(lookup), "--no-progress"]
    assert runner.invoke(main, args, catch_exceptions=False).exit_code == 0
    args = ["predict", str(lookup / "model"), "--precision", "int8"]
    args += ["--out", str(tmp_path / "lookup-int8")]
    refused = runner.invoke(main, args)
    assert refused.exit_code == 2
    assert "lookup: no int8 inference path" in refused.output


def test_auto_on_the_rnn_is_int8_and_says_so(corpus, caplog):
    from systems.neural.inference import MIN_INT8_RECURRENT_UNITS

    system = RnnSystem(RnnConfig(**{**SMALL_RNN, "encoder_hidden": MIN_INT8_RECURRENT_UNITS}))
    train = make_examples(corpus.split("train").tweets, system.codec, with_gold=True)
    system.architecture = system.build(train)
    with caplog.at_level("INFO", logger="harness"):
        system.use_precision("auto")
    assert system.inference_path == "int8"
    assert "rnn: precision auto -> torch int8" in caplog.text
    assert names_of(system.model, quantized.GRU)


#: the flags of the CPU kinds measured: Intel Xeon with AMX, AMD Zen 4, AMD Zen 3
AMX = {"avx2", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8", "amx_tile"}
ZEN4 = {"avx2", "avx512_bf16", "avx512_vnni"}
ZEN3 = {"avx2", "fma"}


@pytest.mark.parametrize(
    ("flags", "with_ov", "with_ort", "expected"),
    [
        (AMX, True, True, "openvino bf16"),
        (ZEN4, True, True, "openvino int8"),
        (AMX, False, True, "bf16"),
        (ZEN3, True, True, "onnxruntime int8"),
        (ZEN3, True, False, "int8"),
    ],
)
def test_auto_on_an_encoder_follows_the_cpu_flags(
    transformer, monkeypatch, flags, with_ov, with_ort, expected
):
    from core import inference_paths
    from systems.neural import engines

    # the choice is under test, not the conversion (the fixture's model stays fp32)
    monkeypatch.setattr(engines, "optimize_for_cpu", lambda model, precision, inplace: model)
    monkeypatch.setattr(inference_paths, "cpu_flags", lambda: flags)
    monkeypatch.setattr(inference_paths, "cpu_supports_bf16", lambda: "avx512_bf16" in flags)
    installed = {"torch": True, "openvino": with_ov, "onnxruntime": with_ort}
    monkeypatch.setattr(
        inference_paths, "missing_extra", lambda e: None if installed[e] else f"{e} missing"
    )
    chosen = []
    monkeypatch.setattr(
        engines, "swap_encoder", lambda model, engine, precision: chosen.append((engine, precision))
    )
    transformer.use_precision("auto")
    assert transformer.inference_path == expected
    engine, _, precision = expected.rpartition(" ")
    assert chosen == ([(engine, precision)] if engine else [])


def test_auto_with_an_engine_is_refused(transformer):
    with pytest.raises(HarnessError, match="precision auto picks the engine too"):
        transformer.use_precision("auto", "onnxruntime")


def test_the_cpu_flags_are_read_from_the_flags_line(monkeypatch, tmp_path):
    from core import machine as inference

    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.delenv(inference.MASK_VARIABLE, raising=False)  # the masked suite sets it
    cpuinfo.write_text("model name\t: Some CPU\nflags\t\t: fpu avx2 avx512_vnni amx_bf16\n")
    real_path = inference.Path
    monkeypatch.setattr(
        inference, "Path", lambda p: real_path(cpuinfo) if p == "/proc/cpuinfo" else real_path(p)
    )
    assert inference.cpu_flags() == {"fpu", "avx2", "avx512_vnni", "amx_bf16"}
    assert inference.cpu_supports_bf16() and inference.cpu_int8_kind() == "vnni"
    cpuinfo.write_text("flags\t\t: fpu avx2 fma\n")
    assert not inference.cpu_supports_bf16() and inference.cpu_int8_kind() == "avx2"
    cpuinfo.write_text("flags\t\t: fpu avx2 fma avx512f avx512_bf16 avx512_vnni amx_tile\n")
    monkeypatch.setenv(inference.MASK_VARIABLE, "avx512*  amx*")
    assert inference.cpu_flags() == {"fpu", "avx2", "fma"}
    assert not inference.cpu_supports_bf16() and inference.cpu_int8_kind() == "avx2"
    assert inference.masked_flags() == "avx512* amx*"


def test_a_model_saved_with_gpu_settings_loads_and_predicts_on_the_cpu(
    corpus, tmp_path, monkeypatch
):
    """What a GPU-trained run leaves (device cuda, mixed precision, fp16 weights in a
    half-precision save) must load where CUDA is absent and predict at every path."""
    import json

    from safetensors.torch import load_file, save_file

    from harness import registry

    system = RnnSystem(RnnConfig(**SMALL_RNN))
    system.architecture = system.build(
        make_examples(corpus.split("train").tweets, system.codec, with_gold=True)
    )
    folder = system.save(tmp_path / "model")
    meta_file = folder / "system.json"
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    meta["config"].update(device="cuda:0", amp=True)
    meta_file.write_text(json.dumps(meta), encoding="utf-8")
    weights = folder / "model.safetensors"
    save_file({k: v.half() for k, v in load_file(str(weights)).items()}, str(weights))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    tweets = corpus.split("valid").tweets
    reference = system.predict(tweets)
    for precision in ("fp32", "int8"):
        loaded = registry.load_saved(folder).use_precision(precision)
        assert loaded.device == torch.device("cpu")
        assert all(p.device.type == "cpu" for p in loaded.model.parameters())
        predictions = loaded.predict(tweets)
        assert [p.tweet_id for p in predictions] == [t.id for t in tweets]
    fp32 = registry.load_saved(folder).predict(tweets)
    agree = sum(a.spans == b.spans for a, b in zip(fp32, reference, strict=True))
    assert agree >= len(tweets) - 1  # fp16-rounded weights, same network
