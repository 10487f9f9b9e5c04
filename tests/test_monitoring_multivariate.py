"""Multivariate drift: a correlation flip no column shows is caught and its columns named;
batches from the reference distribution pass (and alarm at most alpha of the time)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import ParameterError
from nbtrail.practices import monitoring as m

ON = m.MonitorConfig(multivariate=True)  # the monitor stage's default (off in MonitorConfig())


def correlated(rng: np.random.Generator, n: int, rho: float) -> pd.DataFrame:
    """``a`` and ``b`` standard normal with correlation ``rho`` (marginals do not depend on
    it), four independent columns, a categorical one and a few missing values."""
    a = rng.normal(size=n)
    b = rho * a + math.sqrt(1 - rho**2) * rng.normal(size=n)
    data = {"a": a, "b": b, **{f"x{i}": rng.normal(size=n) for i in range(4)}}
    data["colour"] = rng.choice(["red", "green", "blue"], size=n, p=(0.5, 0.3, 0.2))
    frame = pd.DataFrame(data)
    frame.loc[rng.random(n) < 0.02, "x0"] = np.nan
    frame.loc[rng.random(n) < 0.02, "colour"] = None
    return frame


def test_a_correlation_flip_fails_only_the_multivariate_check_and_names_its_columns():
    rng = np.random.default_rng(3)
    ref, flipped = correlated(rng, 600, 0.9), correlated(rng, 300, -0.9)
    v = m.check_batch(ref, flipped, ON, target=None)
    by = {c.name: c for c in v.checks}
    assert not v.drift["drifted"].any(), v.drift  # every univariate test passes
    assert by["data_drift"].status == m.PASS and v.drifted_columns == []
    assert by["multivariate_drift"].status == m.FAIL, by["multivariate_drift"].detail
    assert v.status == m.FAIL and v.kind == "multivariate drift", v.summary
    assert set(v.multivariate["top_columns"]) == {"a", "b"}, v.multivariate
    assert "most from" in by["multivariate_drift"].detail and "multivariate drift" in v.summary
    assert v.multivariate["p_adjusted"] < 0.05 and v.multivariate["auc"] > 0.6
    frame = m.multivariate_frame([v])
    assert frame.loc[0, "status"] == m.FAIL and set(frame.loc[0, "columns"].split(", ")) == {
        "a",
        "b",
    }


def test_no_change_passes_and_turning_the_test_off_removes_the_check():
    rng = np.random.default_rng(4)
    ref, same = correlated(rng, 600, 0.9), correlated(rng, 300, 0.9)
    v = m.check_batch(ref, same, ON, target=None)
    assert v.status == m.PASS, v.summary
    assert [c.status for c in v.checks if c.name == "multivariate_drift"] == [m.PASS]
    off = m.check_batch(ref, same, target=None)
    assert "multivariate_drift" not in {c.name for c in off.checks} and off.multivariate == {}


@pytest.mark.parametrize("n_ref", [60, 600])
def test_the_joint_test_alarms_at_most_alpha_under_no_change(n_ref):
    """Its raw p-value, 250 batches from the reference distribution: exact by construction
    (held-out reference rows), so the rate stays within 3 binomial SE of alpha even on a
    60-row reference (scoring the reference out of fold instead gave 7.3% at 5%)."""
    rng = np.random.default_rng(5 + n_ref)
    kinds = m.column_kinds(correlated(rng, 10, 0.9), ["a", "b", "x0", "x1", "x2", "x3", "colour"])
    reps, alpha = 250, 0.05
    alarms = sum(
        m.multivariate_test(
            correlated(rng, n_ref, 0.9), correlated(rng, 200, 0.9), kinds, seed=i
        ).p_value
        < alpha
        for i in range(reps)
    )
    assert alarms / reps <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps), alarms


def test_too_little_to_test_is_no_check():
    rng = np.random.default_rng(6)
    ref = correlated(rng, 20, 0.9)  # fewer than MIN_REFERENCE_ROWS
    assert m.multivariate_test(ref, ref, m.column_kinds(ref, ["a", "b"])) is None
    big = correlated(rng, 200, 0.9)
    assert m.multivariate_test(big, big, m.column_kinds(big, ["a"])) is None  # one column
    v = m.check_batch(ref, ref, ON, target=None)
    assert "multivariate_drift" not in {c.name for c in v.checks}


def test_the_domain_classifier_catches_the_flip_too_and_passes_no_change():
    rng = np.random.default_rng(3)
    cfg = m.MonitorConfig(multivariate=True, multivariate_method="classifier")
    ref, flipped, same = (correlated(rng, n, r) for n, r in ((600, 0.9), (300, -0.9), (300, 0.9)))
    v = m.check_batch(ref, flipped, cfg, target=None)
    assert not v.drift["drifted"].any() and v.kind == "multivariate drift", v.summary
    assert v.multivariate["method"] == "classifier" and v.multivariate["auc"] > 0.8
    assert set(v.multivariate["top_columns"]) == {"a", "b"}, v.multivariate
    assert "domain classifier AUC" in v.summary
    assert m.check_batch(ref, same, cfg, target=None).status == m.PASS
    with pytest.raises(ParameterError, match="multivariate_method"):
        m.MonitorConfig(multivariate_method="magic")
