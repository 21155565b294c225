"""Search-space files: which options a study samples, and how, in the paper's terms.

A search space is a JSON file, one per system under ``harness/search_spaces/`` (or any
file given with ``harness tune --space``)::

    {
      "system": "transformer",                       optional: refuse to tune another
      "description": "Table 2 of Fidalgo et al.",    optional, free text
      "parameters": {
        "lr":           {"loguniform": [5e-6, 1e-4]},
        "weight_decay": {"loguniform": [1e-3, 1e-1]},
        "warmup_steps": {"randint": [0, 200]},
        "batch_size":   {"choice": [8, 16]},
        "epochs":       {"choice": [3, 4, 5]},
        "scheme":       "BIO"                         a plain value: fixed, not sampled
      }
    }

Keys are option names of the system's ``Config`` (``harness systems NAME`` lists them).
The distributions are Ray Tune's search-space functions, so a file reads like Table 2:
``loguniform`` and ``uniform`` ``[low, high]`` for float options; ``randint`` and
``lograndint`` ``[low, high]`` for int options, ``high`` excluded as in Ray Tune;
``choice`` ``[values...]`` for any option. Every bound and choice is checked against the
option's type when the file is read, so a typo fails before any trial has run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import HarnessError
from core.fileio import read_json_object
from core.system import SystemConfig, coerce

#: The search-space files shipped with the harness, one per system name.
SEARCH_SPACE_DIR = Path(__file__).resolve().parent.parent / "search_spaces"

FLOAT_KINDS = ("loguniform", "uniform")
INT_KINDS = ("randint", "lograndint")
KINDS = (*FLOAT_KINDS, *INT_KINDS, "choice")
#: Options a study must not sample: they describe the data, not the model.
NOT_TUNABLE = ("types",)


@dataclass(frozen=True)
class Parameter:
    """One sampled option: a distribution ``kind`` and its bounds or choices."""

    name: str
    kind: str
    args: tuple[Any, ...]

    @property
    def is_log(self) -> bool:
        return self.kind in ("loguniform", "lograndint")

    @property
    def is_choice(self) -> bool:
        return self.kind == "choice"

    @property
    def upper(self) -> Any:
        """The largest value the parameter can take (ASHA's ``max_t`` for ``epochs``)."""
        if self.is_choice:
            return max(self.args)
        return self.args[1] - 1 if self.kind in INT_KINDS else self.args[1]

    def describe(self) -> str:
        return f"{self.kind}({', '.join(map(repr, self.args))})"

    def to_ray(self) -> Any:
        """The Ray Tune domain (``tune.loguniform(...)`` etc.); imports Ray."""
        from ray import tune

        if self.is_choice:
            return tune.choice(list(self.args))
        return getattr(tune, self.kind)(*self.args)


@dataclass(frozen=True)
class SearchSpace:
    """The parameters a study samples and the options a file fixes."""

    path: str
    parameters: dict[str, Parameter]
    fixed: dict[str, Any] = field(default_factory=dict)
    system: str | None = None
    description: str = ""

    def without(self, names: typing.Iterable[str]) -> SearchSpace:
        """This space less the parameters in ``names`` (options fixed on the command line)."""
        drop = set(names)
        return dataclasses.replace(
            self,
            parameters={k: v for k, v in self.parameters.items() if k not in drop},
            fixed={k: v for k, v in self.fixed.items() if k not in drop},
        )

    def to_ray(self) -> dict[str, Any]:
        return {name: p.to_ray() for name, p in self.parameters.items()}

    def as_json(self) -> dict[str, Any]:
        """The space as written in a file (recorded in the study to detect changes)."""
        params: dict[str, Any] = {n: {p.kind: list(p.args)} for n, p in self.parameters.items()}
        params.update(self.fixed)
        return {"system": self.system, "parameters": params}


def default_space_path(system: str) -> Path:
    """The shipped search-space file of ``system``."""
    path = SEARCH_SPACE_DIR / f"{system}.json"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in SEARCH_SPACE_DIR.glob("*.json"))) or "none"
        raise HarnessError(
            f"no search space shipped for system '{system}' (shipped: {shipped}); "
            "write one and pass it with --space FILE"
        )
    return path


def load_space(
    path: str | Path, config_class: type[SystemConfig], system: str | None = None
) -> SearchSpace:
    """Read and check a search-space file against a system's ``Config``."""
    path = Path(path)
    data = read_json_object(path, "search-space file")
    if not isinstance(data.get("parameters"), dict):
        raise HarnessError(f"{path}: expected an object with a 'parameters' object")
    extra = sorted(set(data) - {"system", "description", "parameters"})
    if extra:
        raise HarnessError(f"{path}: unknown key(s) {', '.join(extra)}")
    named = data.get("system")
    if named is not None and system is not None and named != system:
        raise HarnessError(f"{path}: a search space for system '{named}', not '{system}'")
    hints = typing.get_type_hints(config_class)
    known = {f.name for f in dataclasses.fields(config_class)} - set(NOT_TUNABLE)
    parameters: dict[str, Parameter] = {}
    fixed: dict[str, Any] = {}
    for name, spec in data["parameters"].items():
        where = f"{path}: parameter '{name}'"
        if name not in known:
            raise HarnessError(
                f"{where}: not a tunable option of this system "
                f"(options: {', '.join(sorted(known))})"
            )
        if isinstance(spec, dict):
            parameters[name] = _parameter(name, spec, hints[name], where)
        else:
            fixed[name] = coerce(hints[name], spec, where)
    if not parameters:
        raise HarnessError(f"{path}: no parameter to sample (all are fixed or none given)")
    return SearchSpace(str(path), parameters, fixed, named, str(data.get("description", "")))


def _parameter(name: str, spec: Mapping[str, Any], hint: Any, where: str) -> Parameter:
    if len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise HarnessError(
            f"{where}: expected one of {{{', '.join(KINDS)}: [...]}} or a plain value, "
            f"got {json.dumps(spec)}"
        )
    kind, args = next(iter(spec.items()))
    if not isinstance(args, list) or not args:
        raise HarnessError(f"{where}: '{kind}' needs a non-empty list")
    if kind == "choice":
        values = tuple(coerce(hint, value, where) for value in args)
        if len(set(map(repr, values))) != len(values):
            raise HarnessError(f"{where}: 'choice' lists a value twice")
        return Parameter(name, kind, values)
    wanted = float if kind in FLOAT_KINDS else int
    if hint is not wanted:
        raise HarnessError(
            f"{where}: '{kind}' samples {wanted.__name__}s but the option is "
            f"{getattr(hint, '__name__', hint)}; use "
            + ("'randint', 'lograndint' or 'choice'" if hint is int else "'choice'")
        )
    if len(args) != 2:
        raise HarnessError(f"{where}: '{kind}' needs [low, high]")
    if any(isinstance(a, bool) or not isinstance(a, int | float) for a in args):
        raise HarnessError(f"{where}: '{kind}' bounds must be numbers, got {args}")
    if wanted is int and not all(float(a).is_integer() for a in args):
        raise HarnessError(f"{where}: '{kind}' bounds must be integers, got {args}")
    low, high = (wanted(a) for a in args)
    if not (math.isfinite(low) and math.isfinite(high)) or low >= high:
        raise HarnessError(f"{where}: '{kind}' needs low < high, got [{low}, {high}]")
    if kind in ("loguniform", "lograndint") and low <= 0:
        raise HarnessError(f"{where}: '{kind}' needs low > 0, got {low}")
    return Parameter(name, kind, (low, high))
