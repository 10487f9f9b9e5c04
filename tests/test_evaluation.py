"""Offline evaluation: metrics against scikit-learn, bootstrap intervals, slices, behavioural
tests, gates and the Evidently report (real Evidently, no mocks)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbtrail.core.errors import DataError, GateFailed, ParameterError
from nbtrail.practices import evaluation as ev


@pytest.fixture(scope="module")
def cancer():
    """Breast cancer with snake_case columns, a fitted logistic model and a scored holdout."""
    data = load_breast_cancer(as_frame=True)
    X = data.data.copy()
    X.columns = [c.replace(" ", "_") for c in X.columns]
    y = data.target.to_numpy()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    train, hold = order[:380], order[380:]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(X.iloc[train], y[train])
    Xh = X.iloc[hold].reset_index(drop=True)
    return {"model": model, "X": Xh, "y": y[hold], "score": model.predict_proba(Xh)[:, 1]}


def _noisy_classifier(n: int, seed: int, ties: bool = False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    if ties:
        s = np.round(s, 1)  # many tied scores, and exact bin edges
    return y, s


# --------------------------------------------------------------------------- metric values


@pytest.mark.parametrize("ties", [False, True])
def test_classification_metrics_match_sklearn(ties):
    y, s = _noisy_classifier(257, seed=3, ties=ties)
    got = ev.point_metrics(y, s, ev.CLASSIFICATION_METRICS)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, s >= 0.5), abs=1e-12)
    assert got["f1"] == pytest.approx(skm.f1_score(y, s >= 0.5), abs=1e-12)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, s), rel=1e-9)
    # ECE from sklearn's reliability curve: sum over non-empty bins of share * |gap|.
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], s)
    counts = np.bincount(bins, minlength=10)
    shares = counts[counts > 0] / len(y)
    assert got["calibration_error"] == pytest.approx(
        float(np.sum(shares * np.abs(prob_true - prob_pred))), abs=1e-12
    )
    assert ev.expected_calibration_error(y, s) == pytest.approx(got["calibration_error"])


def test_regression_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, 300)
    pred = y + rng.normal(0, 1.5, 300)
    got = ev.point_metrics(y, pred, ev.REGRESSION_METRICS)
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y, pred))
    assert got["rmse"] == pytest.approx(skm.root_mean_squared_error(y, pred))
    assert got["r2"] == pytest.approx(skm.r2_score(y, pred))
    assert ev.infer_task(y) == "regression"
    assert ev.infer_task(y > 10) == "binary"  # was "classification": binary is now named


def test_vectorised_auc_equals_sklearn_on_every_resample():
    y, s = _noisy_classifier(120, seed=5, ties=True)
    idx = np.random.default_rng(9).integers(0, len(y), size=(25, len(y)))
    batch = ev.metric_batch("roc_auc", y, s, idx)
    expected = [skm.roc_auc_score(y[i], s[i]) for i in idx]
    np.testing.assert_allclose(batch, expected, atol=1e-12)
    ece = ev.metric_batch("calibration_error", y, s, idx)
    np.testing.assert_allclose(ece, [ev.expected_calibration_error(y[i], s[i]) for i in idx])
    for name, fn in [
        ("accuracy", lambda a, b: skm.accuracy_score(a, b >= 0.5)),
        ("f1", lambda a, b: skm.f1_score(a, b >= 0.5)),
        ("log_loss", lambda a, b: skm.log_loss(a, b, labels=[0, 1])),
    ]:
        np.testing.assert_allclose(
            ev.metric_batch(name, y, s, idx), [fn(y[i], s[i]) for i in idx], rtol=1e-9
        )


def test_vectorised_regression_metrics_equal_sklearn_on_every_resample():
    rng = np.random.default_rng(2)
    y = rng.normal(100, 5, 90)  # a large mean: the R2 sums of squares must not cancel
    pred = y + rng.normal(0, 2, 90)
    idx = rng.integers(0, 90, size=(20, 90))
    for name, fn in [
        ("mae", skm.mean_absolute_error),
        ("rmse", skm.root_mean_squared_error),
        ("r2", skm.r2_score),
    ]:
        np.testing.assert_allclose(
            ev.metric_batch(name, y, pred, idx), [fn(y[i], pred[i]) for i in idx], rtol=1e-9
        )


# --------------------------------------------------------------------------- intervals


def test_holdout_intervals_and_paired_differences_draw_the_same_resamples():
    y, a = _noisy_classifier(150, seed=3)
    b = np.clip(a + np.random.default_rng(4).normal(0, 0.1, len(a)), 0, 1)
    settings = ev.Resampling(n_boot=300, seed=7, metrics=["accuracy", "log_loss"])
    one = {name: ev.resample_scores(y, {"scores": s}, settings) for name, s in (("a", a), ("b", b))}
    both = ev.resample_scores(
        y, {"a": a, "b": b}, settings, combine=lambda champion, challenger: challenger - champion
    )
    assert both.values == (one["a"].values[0], one["b"].values[0])
    for m in settings.metrics or ():
        np.testing.assert_array_equal(both.draws[m], one["b"].draws[m] - one["a"].draws[m])
    # The holdout's interval is the percentile interval of those very draws.
    iv = ev.evaluate_holdout(y, a, n_boot=300, seed=7, metrics=["accuracy"])["accuracy"]
    assert (iv.low, iv.high) == ev.percentile_interval(one["a"].draws["accuracy"], 0.95)
    assert np.isnan(ev.percentile_interval(np.empty(0), 0.95)).all()


def test_every_metric_has_one_kernel():
    assert set(ev.KERNELS) == set(ev.CLASSIFICATION_METRICS + ev.REGRESSION_METRICS)
    with pytest.raises(ParameterError, match="unknown metric 'auc'"):
        ev.metric_weighted("auc", np.ones(3), np.ones(3), np.ones((1, 3)))


def test_intervals_are_reproducible_and_contain_the_estimate():
    y, s = _noisy_classifier(300, seed=2)
    a = ev.evaluate_holdout(y, s, n_boot=1000, seed=4)
    b = ev.evaluate_holdout(y, s, n_boot=1000, seed=4)
    assert a == b
    for iv in a.values():
        assert iv.low <= iv.value <= iv.high
        assert iv.high > iv.low
    json.dumps({k: v.to_dict() for k, v in a.items()})


def test_accuracy_interval_matches_the_normal_approximation():
    # For a proportion the percentile bootstrap interval approaches p +- 1.96 sqrt(pq/n).
    y, s = _noisy_classifier(600, seed=11)
    iv = ev.evaluate_holdout(y, s, metrics=["accuracy"], n_boot=4000, seed=1)["accuracy"]
    half = 1.959964 * np.sqrt(iv.value * (1 - iv.value) / 600)
    assert iv.low == pytest.approx(iv.value - half, abs=0.008)
    assert iv.high == pytest.approx(iv.value + half, abs=0.008)


def test_bootstrap_interval_coverage():
    # 300 holdouts drawn from a model with known accuracy 0.8: the 95% interval should cover
    # it about 95% of the time; we require >= 0.90 (binomial SE of the rate ~0.013).
    rng = np.random.default_rng(123)
    covered = 0
    trials = 300
    for i in range(trials):
        y = rng.integers(0, 2, 150)
        correct = rng.random(150) < 0.8
        s = np.where(correct, y, 1 - y).astype(float) * 0.8 + 0.1
        iv = ev.evaluate_holdout(y, s, metrics=["accuracy"], n_boot=400, seed=i)["accuracy"]
        covered += iv.low <= 0.8 <= iv.high
    assert covered / trials >= 0.90


def test_holdout_too_small_for_intervals():
    y, s = _noisy_classifier(20, seed=0)
    with pytest.raises(DataError, match="20 rows.*min_rows=30"):
        ev.evaluate_holdout(y, s)
    y = np.r_[np.ones(95), np.zeros(5)].astype(int)
    s = np.linspace(0, 1, 100)
    with pytest.raises(DataError, match="5 negative rows"):
        ev.evaluate_holdout(y, s)
    y, s = _noisy_classifier(200, seed=0)
    with pytest.raises(ParameterError, match="n_boot=50") as err:
        ev.evaluate_holdout(y, s, n_boot=50, level=0.95)
    assert err.value.parameter == "n_boot"


def test_bad_targets_and_scores():
    # Three text labels were refused ("non-numeric"); they are a multiclass target now.
    # What is still refused: a target with one value, or with missing values.
    assert ev.infer_task(["a", "b", "c"]) == "multiclass"
    with pytest.raises(DataError, match="1 distinct value"):
        ev.infer_task(["a", "a", "a"])
    with pytest.raises(DataError, match="missing"):
        ev.infer_task([1.0, None, 2.0])
    y, s = _noisy_classifier(100, seed=0)
    with pytest.raises(DataError, match="scores"):
        ev.evaluate_holdout(y, s[:-1])
    with pytest.raises(ParameterError, match="pos_label"):
        ev.evaluate_holdout(y, s, pos_label="yes")


# --------------------------------------------------------------------------- slices


def test_slices_by_edges_quantiles_and_category(cancer):
    X, y, s = cancer["X"], cancer["y"], cancer["score"]
    frame = X.assign(size=np.where(X["mean_area"] > X["mean_area"].median(), "big", "small"))
    report = ev.slice_metrics(
        frame,
        y,
        s,
        {"mean_radius": [0, 12, 15, 100], "mean_texture": 3, "size": "category"},
        min_rows=5,
    )
    t = report.table
    radius = t[t["column"] == "mean_radius"]
    assert list(radius["slice"]) == ["(-0.001, 12.0]", "(12.0, 15.0]", "(15.0, 100.0]"]
    masks = [
        X["mean_radius"] <= 12,
        (X["mean_radius"] > 12) & (X["mean_radius"] <= 15),
        X["mean_radius"] > 15,
    ]
    assert list(radius["n"]) == [int(m.sum()) for m in masks]
    for m, (_, row) in zip(masks, radius.iterrows(), strict=True):
        assert row["accuracy"] == pytest.approx(skm.accuracy_score(y[m], s[m] >= 0.5))
    texture = t[t["column"] == "mean_texture"]
    assert len(texture) == 3 and abs(texture["n"].max() - texture["n"].min()) <= 1
    assert set(t[t["column"] == "size"]["slice"]) == {"big", "small"}
    # The worst slice is the eligible minimum, its gap measured from the overall accuracy.
    worst = t[t["eligible"]]["accuracy"].min()
    assert report.worst["value"] == pytest.approx(worst)
    assert report.gap == pytest.approx(skm.accuracy_score(y, s >= 0.5) - worst)
    json.dumps(report.to_dict())


def test_worst_slice_gap_is_flagged():
    rng = np.random.default_rng(0)
    n = 400
    seg = np.where(np.arange(n) < 100, "bad", "good")
    y = rng.integers(0, 2, n)
    # Perfect on "good", a coin flip on "bad".
    s = np.where(seg == "good", y * 0.8 + 0.1, rng.random(n))
    frame = pd.DataFrame({"segment": seg})
    rep = ev.slice_metrics(frame, y, s, ["segment"], max_gap=0.1)
    assert rep.worst["slice"] == "bad" and rep.flagged
    assert rep.gap > 0.1
    assert not ev.slice_metrics(frame, y, s, ["segment"], max_gap=0.9).flagged
    # Regression slices: lower MAE is better, so the worst slice is the largest MAE.
    yr = rng.normal(size=n)
    pr = yr + np.where(seg == "bad", 2.0, 0.1) * rng.normal(size=n)
    rr = ev.slice_metrics(frame, yr, pr, ["segment"])
    assert rr.metric == "mae" and rr.worst["slice"] == "bad" and rr.gap > 0


def test_rows_outside_bins_and_small_slices():
    frame = pd.DataFrame({"x": np.r_[np.linspace(0, 9, 90), [50.0] * 5]})
    y = np.tile([0, 1], 48)[:95]
    s = np.full(95, 0.4)
    rep = ev.slice_metrics(frame, y, s, {"x": [0, 5, 10]}, min_rows=10)
    outside = rep.table[rep.table["slice"] == "<outside bins>"]
    assert int(outside["n"].iloc[0]) == 5 and not bool(outside["eligible"].iloc[0])


@pytest.mark.parametrize(
    ("slices", "message"),
    [
        ({"no_such_column": 3}, "no_such_column"),
        (["mean_radius", "missing_col"], "missing_col"),
        ({"mean_radius": [5, 3]}, "increasing"),
        ({"mean_radius": 1}, ">= 2"),
        ({"mean_radius": "weird"}, "quantile count"),
    ],
)
def test_bad_slice_parameters_name_the_parameter(cancer, slices, message):
    with pytest.raises(ParameterError, match=message) as err:
        ev.slice_metrics(cancer["X"], cancer["y"], cancer["score"], slices)
    assert err.value.parameter == "slices"


# --------------------------------------------------------------------------- behavioural


def _logistic(frame: pd.DataFrame) -> np.ndarray:
    return 1 / (1 + np.exp(-(2.0 * frame["a"] - 1.0 * frame["b"])))


def test_invariance_and_directional_on_a_known_function():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"a": rng.normal(size=500), "b": rng.normal(size=500), "c": rng.normal(size=500)}
    )
    # The score ignores c: perturbing it changes nothing.
    r = ev.invariance_test(_logistic, frame, ["c"], delta=0.5, tolerance=1e-12)
    assert r.passed and r.value == 0.0
    # Shifting a by 0.5 sd changes the logistic by up to 2 * 0.5 * sd / 4 ~ 0.25.
    r = ev.invariance_test(_logistic, frame, ["a"], delta=0.5, tolerance=0.05)
    assert not r.passed and 0.2 < r.value <= 0.26
    assert r.details["rows_over_tolerance"] > 0
    assert ev.directional_test(_logistic, frame, "a", "increase").passed
    assert ev.directional_test(_logistic, frame, "b", "decrease").passed
    wrong = ev.directional_test(_logistic, frame, "b", "increase")
    assert not wrong.passed and wrong.value > 0.9  # saturated rows move less than 0.01
    flat = ev.directional_test(_logistic, frame, "c", "increase")
    assert not flat.passed  # no movement at all is not the stated direction


def test_behavioural_suite_on_a_real_model(cancer):
    predict = ev.score_function(cancer["model"])
    spec = {
        "invariance": [{"columns": ["mean_texture"], "delta": 0.01, "tolerance": 0.05}],
        "directional": [{"column": "worst_radius", "direction": "decrease", "delta": 1.0}],
    }
    results = ev.behavioural_suite(predict, cancer["X"], spec)
    coef = dict(zip(cancer["X"].columns, cancer["model"][-1].coef_[0], strict=True))
    assert coef["worst_radius"] < 0  # so "decrease" is the truth for this linear model
    assert [r.name for r in results] == [
        "invariance[mean_texture]",
        "directional[worst_radius:decrease]",
    ]
    assert all(r.passed for r in results)
    assert ev.tests_table(results)["passed"].all()
    json.dumps([r.to_dict() for r in results])


def test_min_slice_performance(cancer):
    rep = ev.slice_metrics(
        cancer["X"], cancer["y"], cancer["score"], {"mean_radius": [0, 12, 15, 100]}
    )
    worst = rep.table[rep.table["eligible"]]["accuracy"].min()
    [ok] = ev.min_slice_performance_test(rep, bound=worst - 0.01)
    [bad] = ev.min_slice_performance_test(rep, bound=worst + 0.01)
    assert ok.passed and not bad.passed
    assert bad.name == "min_slice_accuracy[mean_radius]" and bad.value == pytest.approx(worst)


@pytest.mark.parametrize(
    "spec",
    [
        {"invariance": [{"columns": ["nope"]}]},
        {"directional": [{"column": "nope", "direction": "increase"}]},
        {"directional": [{"column": "mean_radius", "direction": "sideways"}]},
        {"directional": [{"column": "mean_radius"}]},
        {"invariance": [{"columns": ["mean_radius"], "tolerence": 0.1}]},
        {"monotone": []},
    ],
)
def test_bad_behavioural_parameters(cancer, spec):
    predict = ev.score_function(cancer["model"])
    with pytest.raises(ParameterError) as err:
        ev.behavioural_suite(predict, cancer["X"], spec)
    assert str(err.value.parameter).startswith("behavioural")


# --------------------------------------------------------------------------- gates


def test_gates_pass_fail_and_raise():
    values = {"roc_auc": 0.91, "calibration_error": 0.08, "worst_slice_gap": 0.02}
    gates = {
        "min_roc_auc": 0.9,
        "max_calibration_error": 0.05,
        "max_worst_slice_gap": 0.1,
        "min_accuracy": None,
    }
    results = ev.check_gates({**values, "accuracy": 0.5}, gates)
    by = {r.name: r for r in results}
    assert set(by) == {"min_roc_auc", "max_calibration_error", "max_worst_slice_gap"}
    assert by["min_roc_auc"].passed and not by["max_calibration_error"].passed
    assert by["max_calibration_error"].op == "<=" and by["max_calibration_error"].bound == 0.05
    with pytest.raises(
        GateFailed,
        match=r"max_calibration_error failed: calibration_error = "
        r"0\.08, required <= 0\.05",
    ) as err:
        ev.raise_for_gates(results)
    assert err.value.exit_code == 7 and err.value.facts["gate"] == "max_calibration_error"
    ev.raise_for_gates([r for r in results if r.passed])  # nothing raised
    assert not ev.check_gates({"roc_auc": float("nan")}, {"min_roc_auc": 0.5})[0].passed


def test_gates_on_the_interval_are_pessimistic():
    y, s = _noisy_classifier(300, seed=2)
    ivs = ev.evaluate_holdout(y, s, n_boot=500)
    values = {k: v.value for k, v in ivs.items()}
    bound = (ivs["roc_auc"].low + ivs["roc_auc"].value) / 2
    assert ev.check_gates(values, {"min_roc_auc": bound})[0].passed
    on_ci = ev.check_gates(values, {"min_roc_auc": bound}, intervals=ivs, on="interval")[0]
    assert not on_ci.passed and on_ci.value == ivs["roc_auc"].low
    assert on_ci.on == "interval_low"


@pytest.mark.parametrize(
    ("gates", "message"),
    [
        ({"min_f2": 0.5}, "'f2'"),
        ({"at_least_auc": 0.5}, "min_<metric>"),
        ({"min_roc_auc": "high"}, "not a number"),
    ],
)
def test_bad_gates(gates, message):
    with pytest.raises(ParameterError, match=message):
        ev.check_gates({"roc_auc": 0.9}, gates)


# --------------------------------------------------------------------------- Evidently


def test_evidently_classification_report_agrees(cancer):
    cur = pd.DataFrame({"target": cancer["y"], "proba": cancer["score"]})
    snap = ev.evidently_report(cur, target="target", score="proba")
    got = ev.snapshot_metrics(snap)
    acc = next(v for k, v in got.items() if k.startswith("Accuracy("))
    auc = next(v for k, v in got.items() if k.startswith("RocAuc("))
    assert acc == pytest.approx(skm.accuracy_score(cancer["y"], cancer["score"] >= 0.5))
    assert auc == pytest.approx(skm.roc_auc_score(cancer["y"], cancer["score"]))
    json.dumps(got)
    with pytest.raises(ParameterError, match="'nope'"):
        ev.evidently_report(cur, target="nope", score="proba")


def test_evidently_regression_report_with_reference():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    y = X @ [1.0, -2.0] + rng.normal(size=200)
    pred = LinearRegression().fit(X, y).predict(X)
    cur = pd.DataFrame({"y": y, "pred": pred})
    ref = pd.DataFrame({"y": y, "pred": pred + rng.normal(size=200)})
    got = ev.snapshot_metrics(
        ev.evidently_report(cur, target="y", score="pred", task="regression", reference=ref)
    )
    mae = next(v for k, v in got.items() if k.startswith("MAE("))
    assert mae["mean"] == pytest.approx(skm.mean_absolute_error(y, pred))


def test_directional_tolerance_ignores_tiny_reversals():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"a": rng.normal(size=300)})

    def wobbly(f: pd.DataFrame) -> np.ndarray:
        # Rises with a, plus a 1e-4 wobble that can move some rows the other way.
        return 1 / (1 + np.exp(-f["a"])) + 1e-4 * np.sin(1e4 * f["a"])

    ok = ev.directional_test(wobbly, frame, "a", "increase", delta=0.001)
    strict = ev.directional_test(wobbly, frame, "a", "increase", delta=0.001, tolerance=0.0)
    assert ok.passed and ok.value == 0.0
    assert not strict.passed and strict.value > 0.05
    assert strict.details["largest_reversal"] <= 2e-4


def test_tests_may_perturb_columns_the_model_does_not_take(cancer):
    # The model uses two columns; the data has more. A directional expectation on a column
    # the model ignores fails (no movement), an invariance test on it passes.
    X, y = cancer["X"], cancer["y"]
    model = LogisticRegression().fit(X[["worst_radius", "mean_texture"]], y)
    predict = ev.score_function(model)
    assert predict(X).shape == (len(X),)
    ev.validate_plan(X, slices={"mean_radius": 3}, behavioural={
        "directional": [{"column": "worst_concave_points", "direction": "decrease"}]})  # fmt: skip
    d = ev.directional_test(predict, X, "worst_concave_points", "decrease")
    assert not d.passed and d.details["mean_change"] == 0.0
    assert ev.invariance_test(predict, X, ["worst_concave_points"], tolerance=0.0).passed


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"slices": {"nope": 3}}, "slices"),
        ({"slices": {"mean_radius": [3, 1]}}, "slices"),
        ({"behavioural": {"invariance": [{"columns": ["nope"]}]}}, "behavioural.invariance"),
        ({"behavioural": {"directional": [{"column": "x"}]}}, "behavioural"),
        ({"behavioural": {"other": []}}, "behavioural"),
    ],
)
def test_validate_plan_refuses_before_anything_runs(cancer, kwargs, parameter):
    with pytest.raises(ParameterError) as err:
        ev.validate_plan(cancer["X"], **kwargs)
    assert err.value.parameter == parameter


def test_gates_for_task():
    kept, skipped = ev.gates_for_task(
        {"min_roc_auc": 0.9, "max_rmse": 2.0, "max_worst_slice_gap": 0.1, "min_typo": 1},
        "regression",
    )
    assert skipped == ["min_roc_auc"]
    assert set(kept) == {"max_rmse", "max_worst_slice_gap", "min_typo"}
