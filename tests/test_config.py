"""Typed configs from CLI strings and JSON values (pydantic, lax mode, over the dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from core.errors import HarnessError
from core.system import (
    SystemConfig,
    coerce,
    config_from_dict,
    config_to_dict,
    describe_config,
    parse_options,
)


@dataclass
class Example(SystemConfig):
    lr: float = 3.03e-5
    epochs: int = 4
    amp: bool = True
    vectors: str | None = None
    limit: int | None = 10
    unit: Literal["gru", "lstm"] = "gru"
    units: tuple[Literal["gru", "lstm"], ...] = ("gru",)
    name: str = "x"


def build(**options: str) -> Example:
    return config_from_dict(Example, options, where="system 'example'")  # type: ignore[return-value]


def test_cli_strings_become_typed_values():
    config = build(
        lr="3e-5", epochs="1e3", amp="no", vectors="none", limit="null", types="A, B,", seed="7"
    )
    assert config == Example(
        lr=3e-5, epochs=1000, amp=False, vectors=None, limit=None, types=("A", "B"), seed=7
    )
    assert isinstance(config.epochs, int) and isinstance(config.types, tuple)
    for text, value in [("true", True), ("yes", True), ("1", True), ("false", False), ("0", False)]:
        assert build(amp=text).amp is value
    assert build(limit="5").limit == 5 and build(vectors="w.vec").vectors == "w.vec"
    assert build(units="lstm,gru").units == ("lstm", "gru")


def test_json_values_and_a_saved_config_round_trip():
    config = config_from_dict(
        Example, {"types": ["PROFESION"], "epochs": 3.0, "amp": False, "limit": None}
    )
    assert config.types == ("PROFESION",) and config.epochs == 3 and config.limit is None
    assert config_from_dict(Example, config_to_dict(config)) == config
    assert config_from_dict(Example, {}) == Example()  # defaults kept


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": "lots"}, "option 'lr': expected float, got 'lots'"),
        ({"epochs": "2.5"}, "option 'epochs': expected int, got '2.5'"),
        ({"epochs": "1.5e0"}, "option 'epochs': expected int, got '1.5e0'"),
        ({"amp": "maybe"}, "option 'amp': expected bool, got 'maybe'"),
        ({"limit": "few"}, "option 'limit': expected int, got 'few'"),
        ({"unit": "transformer"}, "option 'unit': must be one of gru, lstm, got 'transformer'"),
        ({"units": "gru,cnn"}, "option 'units' item 2: must be one of gru, lstm, got 'cnn'"),
        ({"name": 3}, "option 'name': expected str, got 3"),
        ({"types": 3}, "option 'types': expected a list or comma-separated values, got 3"),
    ],
)
def test_bad_values_are_one_line_naming_where_and_the_option(options, message):
    with pytest.raises(HarnessError) as err:
        config_from_dict(Example, options, where="system 'example'")
    assert str(err.value) == f"system 'example': {message}"


def test_every_bad_option_in_one_line_and_unknown_ones_listed():
    with pytest.raises(HarnessError) as err:
        build(lr="x", epochs="y")
    assert str(err.value) == (
        "system 'example': option 'lr': expected float, got 'x'; "
        "option 'epochs': expected int, got 'y'"
    )
    with pytest.raises(HarnessError) as err:
        build(learning_rate="1", depth="2")
    assert "\n" not in str(err.value)
    assert str(err.value).startswith(
        "system 'example': unknown option(s) depth, learning_rate for this system (known: amp,"
    )


def test_coerce_one_value_as_search_spaces_do():
    assert coerce(int, "1e3", "where") == 1000
    assert coerce(tuple[str, ...], "A,B", "where") == ("A", "B")
    assert coerce(str | None, "null", "where") is None
    with pytest.raises(
        HarnessError, match=r"^space\.json: parameter 'x': expected int, got 'many'$"
    ):
        coerce(int, "many", "space.json: parameter 'x'")


def test_describe_and_parse_options_unchanged():
    rows = {name: (kind, default) for name, kind, default in describe_config(Example)}
    assert rows["unit"] == ("gru|lstm", "gru") and rows["vectors"] == ("str?", None)
    assert rows["types"][0] == "str,..." and rows["lr"] == ("float", 3.03e-5)
    assert parse_options(["min-precision=0.5", " a = b "]) == {"min_precision": "0.5", "a": "b"}
