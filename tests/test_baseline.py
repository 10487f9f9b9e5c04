"""The baseline, the relative gate over it, and the slices found in the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import GateFailed, ParameterError
from nbtrail.practices import abtest as ab
from nbtrail.practices.baseline import build_baseline, gain_gate
from nbtrail.practices.evaluation import raise_for_gates
from nbtrail.practices.slice_choice import choose_slices
from nbtrail.practices.training import build_pipeline


def _frame(n: int = 600, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "plan": rng.choice(["basic", "pro"], n),
        }
    )
    y = pd.Series(np.where(x["signal"] + 0.3 * rng.normal(size=n) > 0, "yes", "no"))
    return x, y


def _scores(model, x):
    return model.fit(x[:400], y[:400]).predict_proba(x[400:])[:, 1]


x, y = _frame()


@pytest.mark.parametrize("kind", ["dummy", "linear"])
def test_a_real_model_beats_each_baseline_and_the_gate_says_so(kind):
    model = build_pipeline(
        x, model="hist_gradient_boosting", task="classification", seed=0, hyper={}
    )
    base = build_baseline(x, kind=kind, task="classification", seed=0)
    cmp = ab.compare_offline(
        y[400:],
        _scores(base, x),
        _scores(model, x),
        task="classification",
        pos_label="yes",
        primary="roc_auc",
        metrics=["roc_auc", "accuracy"],
        n_boot=300,
        seed=0,
    )
    gate = gain_gate(cmp, min_gain=0.0, alpha=0.05)
    if kind == "dummy":  # a model that learned something is significantly better
        assert gate is not None and gate.passed and gate.value > 0.3
    else:  # a straight line is already about as good: the gate does not pass on noise
        assert gate is not None and gate.value < 0.1


def test_a_model_no_better_than_the_baseline_fails_the_gate():
    base = build_baseline(x, kind="dummy", task="classification", seed=0)
    same = _scores(base, x)
    cmp = ab.compare_offline(
        y[400:],
        same,
        same + 1e-9,
        task="classification",
        pos_label="yes",
        primary="roc_auc",
        metrics=["roc_auc"],
        n_boot=200,
        seed=0,
    )
    gate = gain_gate(cmp, min_gain=0.0, alpha=0.05)
    assert gate is not None and not gate.passed
    assert gain_gate(cmp, min_gain=None, alpha=0.05) is None  # the gate turned off


def test_regression_baselines_and_unknown_kind():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=200)})
    target = 3 * frame["a"] + rng.normal(size=200)
    for kind in ("dummy", "linear"):
        pred = build_baseline(frame, kind=kind, task="regression", seed=0).fit(frame, target)
        assert pred.predict(frame).shape == (200,)
    with pytest.raises(ParameterError) as err:
        build_baseline(frame, kind="oracle", task="regression", seed=0)
    assert err.value.parameter == "baseline"


def test_auto_slices_pick_the_features_the_model_uses_and_small_categoricals():
    score = 1 / (1 + np.exp(-x["signal"].to_numpy()))
    chosen = choose_slices(x, score, ["noise", "signal", "plan"], max_numeric=1)
    assert chosen == {"plan": "category", "signal": 3}
    # deterministic, and columns with one value or too few rows per slice are left out
    assert choose_slices(x, score, ["noise", "signal", "plan"], max_numeric=1) == chosen
    flat = x.assign(plan="basic")
    assert "plan" not in choose_slices(flat, score, ["plan", "signal"])
    assert choose_slices(x.head(12), score[:12], ["signal", "plan"]) == {}


def test_a_gain_that_is_not_significant_says_so_in_the_failure():
    """The gate's value is the gain, which may meet the bound while the paired test does not
    call it significant: the failure says which, not a value that seems to pass."""
    row = {"improvement": 13.55, "p_adjusted": 0.78}
    gate = gain_gate({"primary": "rmse", "metrics": {"rmse": row}}, min_gain=0.0, alpha=0.05)
    assert gate is not None and not gate.passed
    with pytest.raises(GateFailed) as err:
        raise_for_gates([gate])
    assert str(err.value) == (
        "gate gain_over_baseline failed: rmse gain over the baseline = 13.55, required >= 0,"
        " but the gain is not significant (Holm-adjusted p = 0.78, alpha 0.05)"
    )
    worse = {"improvement": -2.0, "p_adjusted": 0.01}
    gate = gain_gate({"primary": "rmse", "metrics": {"rmse": worse}}, min_gain=0.0, alpha=0.05)
    assert gate is not None and not gate.passed
    assert gate.describe() == "rmse gain over the baseline = -2, required >= 0"
    unknown = {"improvement": 1.0, "p_adjusted": None}
    gate = gain_gate({"primary": "r2", "metrics": {"r2": unknown}}, min_gain=0.0, alpha=0.05)
    assert gate is not None and not gate.passed
    assert gate.describe().endswith(", but its significance could not be computed")
    ok = {"improvement": 1.0, "p_adjusted": 0.001}
    gate = gain_gate({"primary": "r2", "metrics": {"r2": ok}}, min_gain=0.0, alpha=0.05)
    assert gate is not None and gate.passed and gate.unmet == ""
