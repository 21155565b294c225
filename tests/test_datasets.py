"""``--data profner``: download once, verify the checksum, fail clearly when offline."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from core import datasets
from core.corpus import load_corpus
from core.errors import DownloadError, HarnessError
from tests.corpus_factory import write_corpus, zip_folder


@pytest.fixture
def served_zip(tmp_path):
    """A small corpus zip served by a local HTTP server; yields (url, sha256, hits)."""
    write_corpus(tmp_path / "src", {"train": {"1": ("el médico", [(3, 9, "PROFESION")])}})
    site = tmp_path / "site"
    site.mkdir()
    archive = zip_folder(tmp_path / "src", site / "profner.zip")
    hits: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # keep test output clean
            hits.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(site))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/profner.zip"
    try:
        yield url, hashlib.sha256(archive.read_bytes()).hexdigest(), hits
    finally:
        server.shutdown()
        server.server_close()


def test_download_verifies_and_caches(served_zip, tmp_path, monkeypatch):
    url, sha, hits = served_zip
    monkeypatch.setenv("HARNESS_PROFNER_URL", url)
    monkeypatch.setenv("HARNESS_PROFNER_SHA256", sha)
    cache = tmp_path / "cache"
    path = datasets.resolve("profner", cache=cache)
    assert path == cache / "profner.zip"
    assert load_corpus(path).split("train").tweets[0].text == "el médico"
    datasets.resolve("profner", cache=cache)  # second time: from the cache
    assert len(hits) == 1


def test_checksum_mismatch_leaves_nothing(served_zip, tmp_path):
    url, _, _ = served_zip
    target = tmp_path / "cache" / "profner.zip"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        datasets.download(url, target, "0" * 64)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []


def test_offline_is_one_clear_error(tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DownloadError, match=r"download failed .* offline"):
        datasets.download(f"http://127.0.0.1:{port}/profner.zip", tmp_path / "p.zip", "0" * 64)


def test_a_cached_copy_that_fails_its_checksum_is_kept_until_a_verified_one_replaces_it(
    served_zip, tmp_path
):
    url, sha, _ = served_zip
    target = tmp_path / "cache" / "profner.zip"
    target.parent.mkdir()
    target.write_bytes(b"the user's copy, touched")
    with socket.socket() as sock:  # offline: a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        offline = f"http://127.0.0.1:{sock.getsockname()[1]}/profner.zip"
    with pytest.raises(DownloadError, match="fails its checksum and was kept as it is"):
        datasets.download(offline, target, sha)
    assert target.read_bytes() == b"the user's copy, touched"
    assert datasets.download(url, target, sha) == target  # online: replaced, verified
    assert datasets.sha256_of(target) == sha
    assert sorted(p.name for p in target.parent.iterdir()) == ["profner.zip"]


def test_http_error(served_zip, tmp_path):
    url, sha, _ = served_zip
    with pytest.raises(DownloadError, match="HTTP 404"):
        datasets.download(url.replace("profner.zip", "missing.zip"), tmp_path / "p.zip", sha)


def test_sample_and_paths(tmp_path):
    assert datasets.resolve("sample") == datasets.SAMPLE_CORPUS
    assert datasets.resolve(str(tmp_path)) == Path(tmp_path)
    with pytest.raises(HarnessError, match="no such corpus"):
        datasets.resolve(str(tmp_path / "nope.zip"))


def test_shipped_sample_corpus_matches_its_generator(tmp_path):
    from core.samples import write_sample_corpus

    write_sample_corpus(tmp_path)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    shipped = sorted(
        p.relative_to(datasets.SAMPLE_CORPUS)
        for p in datasets.SAMPLE_CORPUS.rglob("*")
        if p.is_file()
    )
    assert fresh == shipped
    for rel in fresh:
        assert (tmp_path / rel).read_bytes() == (datasets.SAMPLE_CORPUS / rel).read_bytes(), rel
