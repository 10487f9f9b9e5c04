from __future__ import annotations

import json
from pathlib import Path

import pytest

from nbtrail.core.errors import ConfigError, ParameterError
from nbtrail.pipeline import parameters


def _notebook(path: Path, source: str) -> Path:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# title", "id": "a"},
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": source,
                "outputs": [],
                "execution_count": None,
                "id": "b",
            },
        ],
    }
    path.write_text(json.dumps(nb))
    return path


def test_declared_reads_names_defaults_and_types(tmp_path):
    nb = _notebook(
        tmp_path / "n.ipynb",
        "a = 1\nb = 0.5  # a comment\nc = 'x'\nd = True\ne = None\nf = [1, 2]\ng: float = 3\n",
    )
    decl = parameters.declared(nb)
    assert {k: v.type for k, v in decl.items()} == {
        "a": "int",
        "b": "float",
        "c": "str",
        "d": "bool",
        "e": "any",
        "f": "list",
        "g": "float",
    }
    assert decl["f"].default == [1, 2]


def test_resolve_layers_and_int_widens_to_float(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "rate = 0.1\ndepth = 3\nname = 'm'\n")
    values = parameters.resolve("train", nb, {"rate": 1}, {"depth": 5})
    assert values == {"rate": 1.0, "depth": 5, "name": "m"}
    assert type(values["rate"]) is float


def test_unknown_name_is_refused_with_the_valid_names(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "rate = 0.1\ndepth = 3\n")
    with pytest.raises(ParameterError) as err:
        parameters.resolve("train", nb, {"detph": 4}, where=["-p train.detph=4"])
    msg = str(err.value)
    assert "unknown parameter 'detph'" in msg and "-p train.detph=4" in msg
    assert "valid parameters: depth, rate" in msg
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("value", "kind"), [("deep", "str"), (True, "bool"), (2.5, "float"), ([1], "list")]
)
def test_wrong_type_is_refused(tmp_path, value, kind):
    nb = _notebook(tmp_path / "n.ipynb", "depth = 3\n")
    with pytest.raises(ParameterError, match=rf"expects int, got {kind}"):
        parameters.resolve("train", nb, {"depth": value})


def test_bool_is_not_an_int_and_none_default_takes_anything(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "flag = False\nfeatures = None\n")
    with pytest.raises(ParameterError):
        parameters.resolve("s", nb, {"flag": 1})
    assert parameters.resolve("s", nb, {"features": ["a"]})["features"] == ["a"]


def test_parse_override_types_values_as_yaml():
    assert parameters.parse_override("train.max_depth=4") == ("train", "max_depth", 4)
    assert parameters.parse_override("train.rate=0.5") == ("train", "rate", 0.5)
    assert parameters.parse_override("data.source=x.csv") == ("data", "source", "x.csv")
    assert parameters.parse_override("train.features=[a, b]") == ("train", "features", ["a", "b"])
    assert parameters.parse_override("t.flag=false") == ("t", "flag", False)
    for bad in ("max_depth=4", "train.max_depth", ".x=1", "train.=1"):
        with pytest.raises(ParameterError):
            parameters.parse_override(bad)


def test_syntax_error_in_parameters_cell_names_the_line(tmp_path):
    nb = _notebook(tmp_path / "n.ipynb", "a = 1\nb = (\n")
    with pytest.raises(ConfigError, match=r"n.ipynb:\d"):
        parameters.declared(nb)
