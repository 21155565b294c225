"""Where corpora come from: the embedded sample, the real ProfNER download, or a path.

``--data sample`` (the default) is the invented corpus shipped inside the package, so the
main command works on a fresh machine. ``--data profner`` fetches the official zip from
Zenodo once into a cache and verifies its SHA-256 before use. Anything else is a path.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path

from core.errors import DownloadError, HarnessError
from core.fileio import atomic_output

SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample_corpus"

#: The ProfNER gold standard (train + valid), Zenodo record 4563995, CC BY 4.0.
PROFNER_URL = "https://zenodo.org/records/4563995/files/profner.zip?download=1"
PROFNER_SHA256 = "1acfea5cc834b09d7fe72cc190191c6978da032d5172028b4d5cd7adb88960e7"


def cache_dir() -> Path:
    """``$HARNESS_CACHE``, else ``$XDG_CACHE_HOME/ner-harness``, else ``~/.cache/ner-harness``."""
    if os.environ.get("HARNESS_CACHE"):
        return Path(os.environ["HARNESS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ner-harness"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, sha256: str, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``dest`` unless a verified copy is there; verify before keeping it.

    The file is written atomically, so an interrupted download leaves nothing behind. A
    cached copy that fails its checksum stays until a verified copy replaces it: offline,
    a user keeps the file (perhaps only touched) rather than being left with nothing.
    """
    stale = dest.exists()
    if stale and sha256_of(dest) == sha256:
        return dest
    try:
        return _fetch(url, dest, sha256, timeout)
    except DownloadError as err:
        if stale:
            raise DownloadError(
                f"{err}; the cached {dest} fails its checksum and was kept as it is"
            ) from None
        raise


def _fetch(url: str, dest: Path, sha256: str, timeout: float) -> Path:
    with atomic_output(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                while block := response.read(1 << 20):
                    out.write(block)
        except urllib.error.HTTPError as err:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}") from None
        except (urllib.error.URLError, OSError, TimeoutError) as err:
            reason = getattr(err, "reason", err)
            raise DownloadError(
                f"{url}: download failed ({reason}); are you offline? "
                f"Pass --data PATH to a local copy instead"
            ) from None
        got = sha256_of(tmp)
        if got != sha256:
            raise DownloadError(f"{url}: checksum mismatch (sha256 {got}, expected {sha256})")
    return dest


def resolve(data: str, cache: Path | None = None) -> Path:
    """Map a ``--data`` value to a local corpus path, downloading ``profner`` if needed."""
    if data == "sample":
        return SAMPLE_CORPUS
    if data == "profner":
        url = os.environ.get("HARNESS_PROFNER_URL", PROFNER_URL)
        sha = os.environ.get("HARNESS_PROFNER_SHA256", PROFNER_SHA256)
        target = (cache or cache_dir()) / "profner.zip"
        return download(url, target, sha)
    path = Path(data)
    if not path.exists():
        raise HarnessError(
            f"{data}: no such corpus (use 'sample', 'profner', or a path to a zip or folder)"
        )
    return path
