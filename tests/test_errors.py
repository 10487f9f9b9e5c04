"""The error tree: distinct exit codes, builtin bases, and errors that survive pickling."""

from __future__ import annotations

import pickle

import pytest

from nbtrail.core import errors


def _all_errors() -> list[type[errors.NbtrailError]]:
    return [
        v
        for v in vars(errors).values()
        if isinstance(v, type)
        and issubclass(v, errors.NbtrailError)
        and v is not errors.NbtrailError
    ]


def test_every_exit_code_is_defined_in_errors_and_distinct_but_for_subclasses():
    codes: dict[int, type] = {}
    for cls in _all_errors():
        other = codes.setdefault(cls.exit_code, cls)
        assert other is cls or issubclass(cls, other) or issubclass(other, cls), (cls, other)
    assert {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} <= set(codes)


def test_stage_failed_pickles_with_its_facts_and_traceback():
    exc = errors.StageFailed(
        stage="train",
        notebook="notebooks/02_train.ipynb",
        cell=4,
        ename="GateFailed",
        evalue="min_roc_auc: 0.5 < 0.9",
        saved="workspace/runs/x/executed.ipynb",
        run_id="train-20261203T000000-abcdef",
        traceback="Traceback...\nGateFailed: min_roc_auc",
    )
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is errors.StageFailed
    assert str(back) == str(exc)
    assert back.exit_code == errors.GateFailed.exit_code
    assert (back.stage, back.cell, back.traceback) == ("train", 4, exc.traceback)


@pytest.mark.parametrize(
    "exc",
    [
        errors.ParameterError("unknown parameter 'x'", stage="train", parameter="x", valid=["a"]),
        errors.ConfigError("malformed YAML", path="params/train.yaml", line=3),
        errors.DataError("empty", hint="add rows"),
        errors.NotReproduced("metrics differ"),
    ],
)
def test_errors_with_keyword_facts_pickle(exc):
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is type(exc) and str(back) == str(exc)
    assert back.__dict__ == exc.__dict__
    assert isinstance(back, (ValueError, RuntimeError))
