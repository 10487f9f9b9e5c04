"""Property-based tests (hypothesis) of what reads text a person typed or wrote: the parameters
cell, ``-p`` overrides, the YAML loaders, dataset names and run references, sources and
batches, and the ``--metric`` filter. No input crashes them with anything but nbtrail's own
errors, and what is written the documented way reads back the same.

Derandomized and without an example database, so a run is the same on every machine and
writes nothing into the repository.
"""

from __future__ import annotations

import json
import keyword
import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from nbtrail.core.errors import (
    ConfigError,
    DataError,
    NameRefused,
    NbtrailError,
    NotFound,
    ParameterError,
)
from nbtrail.core.workspace import Workspace
from nbtrail.core.yamlio import load_yaml, parse_yaml
from nbtrail.data import sourceref
from nbtrail.data.versions import MAX_NAME, check_name, parse_ref
from nbtrail.pipeline import kinds, parameters
from nbtrail.pipeline.config import load_pipeline
from nbtrail.runs.index import parse_metric_filter
from nbtrail.runs.refs import check_run_ref, check_target

# hypothesis keeps caches in ./.hypothesis by default: never in the repository
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="nbtrail-hypothesis-"))
BOUNDED = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEW = settings(BOUNDED, max_examples=60)  # the ones that write a file per example

# Text as a person or a hostile file may give it: any code point, control characters,
# separators and YAML's own punctuation made likely.
NASTY = st.sampled_from(list("/\\.\x00\n\r\t\x1b\x85\u2028\ufeff:@#&*!|>'\"%{}[],-~=? "))


def text_of(chars: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    """Strings of ``chars`` (``st.text`` would build a Unicode table first: seconds per run)."""
    return st.lists(chars, max_size=max_size).map("".join)


ANY_CHAR = st.integers(0, 0x10FFFF).map(chr)  # surrogates too (what surrogateescape makes)
CHAR = ANY_CHAR.filter(lambda c: not "\ud800" <= c <= "\udfff")
TEXT = text_of(st.one_of(ANY_CHAR, NASTY), 60)

# Values a parameter can hold (what YAML and JSON agree on), nested a little.
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    text_of(st.one_of(CHAR, NASTY), 20),
)
PLAIN = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(text_of(CHAR, 8), inner, max_size=4)
    ),
    max_leaves=12,
)
# YAML made of its own tokens, with what PyYAML itself chokes on: impossible dates (ValueError),
# nesting deeper than the recursion limit, tags, anchors, huge numbers.
YAML_TOKENS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "- ",
        ": ",
        ", ",
        "\n",
        "  ",
        "'",
        '"',
        "&a ",
        "*a",
        "? ",
        "#",
        "~",
        "!!binary ",
        "!!set ",
        "!!python/name:os.system ",
        "a",
        "1",
        "2026-02-30",
        "2026-13-01",
        "2026-01-01 25:61:00",
        "1e999",
        "0x_",
        "0o9",
        ".nan",
        "yes",
        "\t",
        "\x85",
        "\ufeff",
    ]
)
YAMLISH = st.one_of(
    st.lists(YAML_TOKENS, max_size=40).map("".join),
    st.integers(1, 3000).map(lambda n: "[" * n),
)
_LOWER = string.ascii_lowercase
IDENT = st.builds(
    str.__add__,
    st.sampled_from(_LOWER + "_"),
    text_of(st.sampled_from(_LOWER + string.digits + "_"), 15),
).filter(lambda s: not keyword.iskeyword(s))
STAGE = st.builds(
    str.__add__, st.sampled_from(_LOWER), text_of(st.sampled_from(_LOWER + string.digits + "_"), 11)
)


def _only_ours(fn: Any, *args: Any, allowed: tuple[type[BaseException], ...] = (NbtrailError,)):
    """``fn(*args)``, or None when it raised one of nbtrail's errors (anything else fails)."""
    try:
        return fn(*args)
    except allowed:
        return None


# The parameters cell


@BOUNDED
@given(TEXT)
def test_any_parameters_cell_parses_or_is_a_config_error(source: str) -> None:
    _only_ours(parameters.declared_in, source, allowed=(ConfigError,))


@FEW
@given(st.dictionaries(IDENT, PLAIN, min_size=1, max_size=4))
def test_a_cell_of_literals_declares_each_default(values: dict[str, Any]) -> None:
    source = "\n".join(f"{name} = {value!r}  # a note" for name, value in values.items())
    decl = parameters.declared_in(source)
    assert {n: p.default for n, p in decl.items()} == values
    for name, value in values.items():
        assert decl[name].type == parameters._type_of(value)


@BOUNDED
@given(st.sampled_from(sorted(kinds.KINDS)), st.one_of(st.none(), text_of(CHAR, 10)))
def test_a_name_kind_annotation_declares_a_string(kind: str, default: str | None) -> None:
    decl = parameters.declared_in(f"x: {kind!r} = {default!r}")
    assert decl["x"].type == "str" and decl["x"].kind == kind and decl["x"].default == default


# -p overrides


@BOUNDED
@given(TEXT | YAMLISH.map(lambda t: "s.k=" + t))
def test_any_override_text_parses_or_is_a_parameter_error(text: str) -> None:
    got = _only_ours(parameters.parse_override, text, allowed=(ParameterError,))
    if got is not None:
        stage, key, _ = got
        assert stage and key and "=" not in stage + key


@settings(BOUNDED, max_examples=100)
@given(STAGE, IDENT, PLAIN)
def test_a_value_formatted_as_p_text_parses_back(stage: str, key: str, value: Any) -> None:
    text = parameters.format_override(stage, key, value)
    assert parameters.parse_override(text) == (stage, key, value)


@pytest.fixture(scope="module")
def typed_notebook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cell = (
        'n = 3\nrate = 0.5\nname = "x"\nflag = True\nitems = []\nopts = {"a": 1}\n'
        'free = None\ndataset: "DatasetName" = None\nsource: "DataSource" = "sklearn:iris"\n'
        'batch: "Batches" = "demo"\nmodel: "ModelName" = None\n'
    )
    nb = {
        "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": cell}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path_factory.mktemp("typed") / "typed.ipynb"
    path.write_text(json.dumps(nb))
    return path


@BOUNDED
@given(
    st.sampled_from(
        [
            "n",
            "rate",
            "name",
            "flag",
            "items",
            "opts",
            "free",
            "dataset",
            "source",
            "batch",
            "model",
            "opts.a",
            "nosuch",
        ]
    ),
    TEXT,
)
def test_any_override_value_resolves_or_is_refused_with_our_error(
    typed_notebook: Path, key: str, text: str
) -> None:
    """The whole path of ``-p s.KEY=TEXT``: parsed, typed, name-kinds and plainness checked."""

    def resolve() -> dict[str, Any]:
        _, k, value = parameters.parse_override(f"s.{key}={text}")
        return parameters.resolve("s", typed_notebook, {k: value}, root=typed_notebook.parent)

    got = _only_ours(resolve)
    if got is not None:
        json.dumps(got, allow_nan=False)  # everything a notebook gets is plain JSON


# YAML files


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("yaml")


@FEW
@given(st.binary(max_size=200) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_any_yaml_file_loads_or_is_a_config_error(scratch: Path, data: bytes) -> None:
    path = scratch / "any.yaml"
    path.write_bytes(data)
    _only_ours(load_yaml, path, allowed=(ConfigError,))


@BOUNDED
@given(YAMLISH | TEXT)
def test_any_yaml_text_parses_or_is_a_config_error(text: str) -> None:
    _only_ours(parse_yaml, text, allowed=(ConfigError,))


# PyYAML's emitter writes NEL and the Unicode line separators raw, and its reader then takes
# them for line breaks: a dumped file does not load back. Not ours to fix; not generated here.
_DUMPABLE = CHAR.filter(lambda c: c not in "\x85\u2028\u2029")
DUMPABLE = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        text_of(_DUMPABLE, 20),
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(text_of(_DUMPABLE, 8), inner, max_size=4)
    ),
    max_leaves=12,
)


@FEW
@given(st.dictionaries(IDENT, DUMPABLE, max_size=4))
def test_a_params_file_loads_back_to_the_same_mapping(scratch: Path, values: dict) -> None:
    path = scratch / "params.yaml"
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    assert (load_yaml(path) or {}) == values


STAGE_SPEC = st.dictionaries(
    st.sampled_from(["notebook", "params", "needs", "inputs", "outputs", "description", "x"]),
    st.one_of(PLAIN, st.sampled_from(["nb.ipynb", "p.yaml", "../nb.ipynb", "a\x00b"])),
    max_size=4,
)
PIPELINE = st.one_of(
    PLAIN,
    st.fixed_dictionaries(
        {"stages": st.dictionaries(st.one_of(STAGE, TEXT, st.integers()), STAGE_SPEC, max_size=3)},
        optional={"version": PLAIN, "profiles": PLAIN},
    ),
)


@FEW
@given(PIPELINE)
def test_any_pipeline_yaml_loads_or_is_a_config_error(scratch: Path, spec: Any) -> None:
    root = scratch / "project"
    (root / "params").mkdir(parents=True, exist_ok=True)
    (root / "nb.ipynb").write_text("{}")
    (root / "p.yaml").write_text("a: 1\n")
    (root / "params" / "pipeline.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True))
    _only_ours(load_pipeline, Workspace(root), allowed=(ConfigError,))


# Names, references, sources and batches

_ALNUM = string.ascii_letters + string.digits
VALID_NAME = st.builds(
    str.__add__, st.sampled_from(_ALNUM), text_of(st.sampled_from(_ALNUM + "._-"), MAX_NAME - 1)
)


@BOUNDED
@given(VALID_NAME.filter(lambda n: ".." not in n))
def test_valid_names_are_accepted(name: str) -> None:
    assert check_name(name) == name
    assert parse_ref(f"{name}@7") == (name, 7)


@BOUNDED
@given(TEXT, st.sampled_from(["/", "\\", "\x00", "..", "\n", "\x1b"]), TEXT)
def test_names_with_separators_or_controls_are_always_refused(a: str, bad: str, b: str) -> None:
    name = a + bad + b
    with pytest.raises(NameRefused) as err:
        check_name(name)
    text = str(err.value)
    assert len(text) < 400 and "\n" not in text and "\x1b" not in text and "\x00" not in text
    with pytest.raises(DataError):
        parse_ref(name)


@BOUNDED
@given(TEXT)
def test_any_name_or_ref_is_accepted_or_refused_with_our_error(text: str) -> None:
    _only_ours(check_name, text, allowed=(NameRefused,))
    _only_ours(parse_ref, text, allowed=(DataError,))
    _only_ours(check_run_ref, text, allowed=(NotFound,))
    _only_ours(check_target, text, allowed=(NotFound,))


@BOUNDED
@given(TEXT | st.lists(TEXT, max_size=4).map(",".join))
def test_any_source_or_batch_is_classified_or_refused_with_our_error(
    scratch: Path, text: str
) -> None:
    kind = _only_ours(sourceref.check_source, text, scratch)
    assert kind in (None, "sklearn", "file", "dataset")
    _only_ours(sourceref.check_batches, text, scratch)
    for item, batch_kind, _ in sourceref.batch_items(text, scratch):
        assert item and item == item.strip() and batch_kind in ("folder", "file", "dataset")


# --metric filters

_HEAD = string.ascii_letters + "_"
METRIC = st.builds(
    str.__add__, st.sampled_from(_HEAD), text_of(st.sampled_from(_HEAD + string.digits + ".-"), 20)
)
OPS = st.sampled_from([">", "<", ">=", "<=", "=", "==", "!="])


@BOUNDED
@given(TEXT)
def test_any_metric_filter_parses_or_is_a_parameter_error(text: str) -> None:
    got = _only_ours(parse_metric_filter, text, allowed=(ParameterError,))
    if got is not None:
        assert got[1] in (">", "<", ">=", "<=", "=", "!=") and got[2] == got[2]


@BOUNDED
@given(METRIC, OPS, st.floats(allow_nan=False), st.sampled_from(["", " ", "  "]))
def test_a_metric_filter_round_trips(name: str, op: str, value: float, pad: str) -> None:
    name_, op_, value_ = parse_metric_filter(f"{pad}{name}{pad}{op}{pad}{value!r}{pad}")
    assert (name_, value_) == (name, value) and op_ == ("=" if op == "==" else op)
