"""The contract every system implements, in the style of a scikit-learn estimator.

Hyperparameters live in a dataclass (``Config``) that is the system's only constructor
argument, so the CLI, the run folder and the tuner all speak the same typed settings.
``fit`` returns the system, ``predict`` takes plain tweets and returns plain predictions,
and ``save``/``load`` round-trip through one folder that also records the config.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import re
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar, TypeVar

import pydantic

from core import __version__
from core.errors import HarnessError
from core.fileio import atomic_write_text, read_json_object
from core.inference_paths import AUTO, BASELINE, InferencePath, Preference, choose
from core.tweets import EVALUATED_TYPES, Prediction, Tweet

log = logging.getLogger("harness")

SYSTEM_FILE = "system.json"
S = TypeVar("S", bound="System")


@dataclass
class SystemConfig:
    """Settings shared by every system; subclasses add their own fields with defaults."""

    #: entity types the system learns and predicts
    types: tuple[str, ...] = EVALUATED_TYPES
    #: random seed for initialisation and shuffling
    seed: int = 13


class System(ABC):
    """A trainable NER system for task 7a (tweet label) and 7b (entity spans).

    Subclasses set ``name``, ``description`` and ``Config`` and implement the abstract
    methods; ``labels_from_spans`` says whether 7a is derived from the predicted spans
    (positive iff any span) rather than predicted by a classifier of its own.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    labels_from_spans: ClassVar[bool] = True
    #: False for systems made from others (an ensemble), which ``harness run`` cannot train
    trainable: ClassVar[bool] = True
    Config: ClassVar[type[SystemConfig]] = SystemConfig

    def __init__(self, config: SystemConfig | None = None):
        self.config = config if config is not None else self.Config()
        self.show_progress = False
        #: one record per training epoch (loss, seconds per step, valid F1), if any
        self.history: list[dict[str, Any]] = []

    @abstractmethod
    def fit(self: S, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> S:
        """Learn from gold-labelled tweets; ``valid`` may guide model selection."""

    @abstractmethod
    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        """One prediction per tweet, in the same order; gold fields are ignored."""

    @abstractmethod
    def save_model(self, folder: Path) -> None:
        """Write the learned state into ``folder`` (``system.json`` is written for you)."""

    @classmethod
    @abstractmethod
    def load_model(cls: type[S], folder: Path, config: SystemConfig) -> S:
        """Rebuild a fitted system from ``folder`` and its recorded config."""

    @abstractmethod
    def parameter_count(self) -> int:
        """Number of learned parameters (entries of the dictionary for non-neural systems)."""

    def settle(self) -> dict[str, dict[str, str]]:
        """Give the options whose value depends on this machine (an encoder ``auto``)
        their value, once, before training. Returns ``{option: {"requested", "chosen",
        "reason"}}`` for what was settled, which ``harness run`` prints and records."""
        return {}

    #: the inference paths the system supports; systems without neural layers have one
    inference_paths: ClassVar[tuple[InferencePath, ...]] = (BASELINE,)
    #: the paths ``--precision auto`` may pick, best first, each with why (measured)
    auto_preferences: ClassVar[tuple[Preference, ...]] = ()
    #: said instead of the declared paths by systems that take others' (an ensemble)
    paths_note: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        undeclared = [
            str(p.path) for p in cls.auto_preferences if p.path not in cls.inference_paths
        ]
        if undeclared:
            raise TypeError(f"{cls.__name__}: auto prefers undeclared paths {undeclared}")

    def use_precision(self: S, precision: str, engine: str = "torch") -> S:
        """Switch a loaded system to an inference path for prediction: one it declares
        and this machine runs, or with ``auto`` the first of its preferences that runs
        here (``core.inference_paths.choose``)."""
        path, reason = choose(
            self.name, self.inference_paths, self.auto_preferences, precision, engine
        )
        if precision == AUTO:
            log.info("%s: precision auto -> %s %s (%s)", self.name, *astuple(path), reason)
        self.switch_path(path)
        self.inference_path = str(path)
        return self

    def switch_path(self, path: InferencePath) -> None:  # noqa: B027 (a hook, empty by default)
        """Make ``path`` (declared, runnable here) the one ``predict`` uses; systems with
        only the baseline have nothing to switch."""

    #: the path ``use_precision`` chose, as ``[engine ]precision`` (what "auto" became)
    inference_path: str = str(BASELINE)

    # -- persistence shared by all systems -------------------------------------------------

    def save(self, folder: str | Path) -> Path:
        """Save into ``folder``: the system's files plus ``system.json`` (name and config)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.save_model(folder)
        meta = {
            "system": self.name,
            "harness_version": __version__,
            "config": config_to_dict(self.config),
            "parameters": self.parameter_count(),
        }
        atomic_write_text(folder / SYSTEM_FILE, json.dumps(meta, indent=2, ensure_ascii=False))
        return folder

    @classmethod
    def load(cls: type[S], folder: str | Path) -> S:
        folder = Path(folder)
        meta = read_system_file(folder)
        if meta["system"] != cls.name:
            raise HarnessError(f"{folder}: holds a '{meta['system']}' model, not '{cls.name}'")
        config = config_from_dict(cls.Config, meta.get("config", {}), where=str(folder))
        return cls.load_model(folder, config)


def read_system_file(folder: Path) -> dict[str, Any]:
    path = folder / SYSTEM_FILE
    if not path.is_file():
        raise HarnessError(f"{folder}: not a saved model folder (no {SYSTEM_FILE})")
    meta = read_json_object(path, "saved model file")
    if "system" not in meta:
        raise HarnessError(f"{path}: missing the 'system' field")
    if not isinstance(meta["system"], str):
        raise HarnessError(f"{path}: 'system' must be a system's name, not {meta['system']!r:.40}")
    if not isinstance(meta.get("config", {}), dict):
        raise HarnessError(f"{path}: 'config' must be an object of options")
    return meta


# -- typed configs ---------------------------------------------------------------------------


def config_to_dict(config: SystemConfig) -> dict[str, Any]:
    """A JSON-ready dict of a config (tuples become lists)."""
    return {
        f.name: list(v) if isinstance(v := getattr(config, f.name), tuple) else v
        for f in dataclasses.fields(config)
    }


def config_from_dict(
    config_class: type[SystemConfig], values: Mapping[str, Any], where: str = "config"
) -> SystemConfig:
    """Build a config from JSON values or CLI strings, checking names and types.

    Validation is pydantic's (lax mode) over the stdlib dataclass, after
    :func:`_cli_form` has turned the CLI conventions pydantic does not know into plain
    values; options not given keep the dataclass defaults. Every problem is reported in
    one line that names ``where`` and the option.
    """
    known = {f.name for f in dataclasses.fields(config_class) if f.init}
    unknown = sorted(set(values) - known)
    if unknown:
        raise HarnessError(
            f"{where}: unknown option(s) {', '.join(unknown)} for this system "
            f"(known: {', '.join(sorted(known))})"
        )
    hints = typing.get_type_hints(config_class)
    try:
        return _config_adapter(config_class).validate_python(dict(values))
    except pydantic.ValidationError as err:
        problems = []
        for error in err.errors():
            loc = error["loc"]
            name = str(loc[0]) if loc else ""
            item = f" item {loc[1] + 1}" if len(loc) > 1 and isinstance(loc[1], int) else ""
            given = values[name] if len(loc) == 1 and name in values else error["input"]
            message = _explain(error, hints.get(name), given)
            problems.append(f"option '{name}'{item}: {message}" if name else message)
        raise HarnessError(f"{where}: {'; '.join(problems)}") from None


def coerce(hint: Any, value: Any, where: str) -> Any:
    """Convert ``value`` (a JSON value or a CLI string) to the annotated type."""
    try:
        return _type_adapter(hint).validate_python(value)
    except pydantic.ValidationError as err:
        messages = [_explain(error, hint, value) for error in err.errors()]
        raise HarnessError(f"{where}: {'; '.join(messages)}") from None


@functools.cache
def _config_adapter(config_class: type[SystemConfig]) -> pydantic.TypeAdapter[Any]:
    """A validator of ``config_class`` that reads each field's CLI form first."""
    hints = typing.get_type_hints(config_class)

    def cli_forms(values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        return {k: _cli_form(hints[k], v) if k in hints else v for k, v in values.items()}

    return pydantic.TypeAdapter(Annotated[config_class, pydantic.BeforeValidator(cli_forms)])


@functools.cache
def _type_adapter(hint: Any) -> pydantic.TypeAdapter[Any]:
    return pydantic.TypeAdapter(
        Annotated[hint, pydantic.BeforeValidator(functools.partial(_cli_form, hint))]
    )


#: ``1e3``, ``2.5E+4``: a float written for an int option, checked to be whole by pydantic
_EXPONENT = re.compile(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+")


def _cli_form(hint: Any, value: Any) -> Any:
    """The three command-line conventions pydantic does not know, as plain values.

    ``none``/``null`` for an optional option, comma-separated items for a tuple option,
    and exponent notation for an int option. Anything else goes to pydantic unchanged,
    which reads ``3e-5`` as a float and ``true/false/yes/no/on/off/1/0`` as a bool.
    """
    if not isinstance(value, str):
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value.strip().lower() in ("none", "null"):
            return None
        rest = [a for a in args if a is not type(None)]
        return _cli_form(rest[0], value) if len(rest) == 1 else value
    if origin is tuple:
        inner = args[0] if args else str
        return [_cli_form(inner, item.strip()) for item in value.split(",") if item.strip()]
    if hint is int and _EXPONENT.fullmatch(value.strip()):
        return float(value)
    return value


#: pydantic error type prefix -> the type named in our message
_EXPECTED = {"int": "int", "float": "float", "bool": "bool", "string": "str"}


def _explain(error: Mapping[str, Any], hint: Any, given: Any) -> str:
    """One pydantic error as a short message: ``expected int, got 'many'``."""
    kind = str(error["type"])
    if kind == "literal_error":
        choices = _literal_choices(hint)
        listed = ", ".join(map(str, choices)) if choices else error["ctx"]["expected"]
        return f"must be one of {listed}, got {given!r}"
    if kind in ("tuple_type", "list_type"):
        return f"expected a list or comma-separated values, got {given!r}"
    if kind == "finite_number":
        return f"expected a finite number, got {given!r}"
    expected = _EXPECTED.get(kind.split("_", 1)[0])
    if expected is not None:
        return f"expected {expected}, got {given!r}"
    return f"{error['msg']}, got {given!r}".replace("\n", " ")


def _literal_choices(hint: Any) -> tuple[Any, ...]:
    """The choices of the ``Literal`` in ``hint`` (itself, or inside an optional/tuple)."""
    if typing.get_origin(hint) is typing.Literal:
        return typing.get_args(hint)
    for arg in typing.get_args(hint):
        if choices := _literal_choices(arg):
            return choices
    return ()


def parse_options(pairs: Sequence[str]) -> dict[str, str]:
    """``["lr=3e-5", "epochs=4"]`` -> ``{"lr": "3e-5", "epochs": "4"}``."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"option {pair!r}: expected KEY=VALUE")
        options[key.strip().replace("-", "_")] = value.strip()
    return options


def describe_config(config_class: type[SystemConfig]) -> list[tuple[str, str, Any]]:
    """(name, type, default) for each option, for ``harness systems NAME``."""
    hints = typing.get_type_hints(config_class)
    rows = []
    for f in dataclasses.fields(config_class):
        default = (
            f.default
            if f.default is not dataclasses.MISSING
            else (f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        )
        rows.append((f.name, type_name(hints[f.name]), default))
    return rows


def type_name(hint: Any) -> str:
    """A short, readable name of an option's type: ``float``, ``gru|lstm``, ``str?``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return "|".join(map(str, args))
    if origin in (typing.Union, types.UnionType):
        inner = [type_name(a) for a in args if a is not type(None)]
        optional = "?" if type(None) in args else ""
        return "|".join(inner) + optional
    if origin is tuple:
        return f"{type_name(args[0]) if args else 'str'},..."
    return getattr(hint, "__name__", str(hint).replace("typing.", ""))
