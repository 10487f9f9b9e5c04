"""Champion versus challenger for every task: McNemar for classifiers of any classes,
Wilcoxon on absolute errors for regressors, Holm across everything, and intervals that agree
with Holm's decisions in every repetition of a simulation; the regression A/A keeps its
false-positive rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev

ALPHA = 0.05
# A/A: N = 1000 simulated comparisons; SE of a rate of 0.05 is 0.0069, and we allow
# alpha + 0.015 (2.2 SE above alpha; the promote rate is about alpha / 2 in truth, since
# promotion needs the challenger *better*, one side of a two-sided test).
AA_REPS, AA_TOL = 1000, 0.015


def _agrees(res: dict) -> None:
    """Every row: its adjusted interval excludes 0 exactly when Holm rejects it."""
    for m, row in res["metrics"].items():
        adj = res["adjusted_intervals"][m]
        significant = row["p_adjusted"] < res["alpha"]
        lo, hi = adj["ci"]
        excludes = (lo is not None and lo > 0) or (hi is not None and hi < 0)
        assert adj["significant"] == significant, (m, row, adj)
        assert excludes == significant, (m, row, adj)


# --------------------------------------------------------------------------- classifiers


def test_multiclass_ab_on_iris_tests_accuracy_with_mcnemar():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    order = np.random.default_rng(0).permutation(len(y))
    tr, ho = order[:75], order[75:]
    weak = LogisticRegression(max_iter=1000).fit(X[tr][:, [1]], names[tr])  # sepal width only
    strong = LogisticRegression(max_iter=1000).fit(X[tr], names[tr])
    a, b = weak.predict_proba(X[ho][:, [1]]), strong.predict_proba(X[ho])
    res = ab.compare_offline(
        names[ho], a, b, task="multiclass", classes=list(strong.classes_), n_boot=1000, seed=0
    )
    assert res["task"] == "multiclass" and res["decision"] == "promote", res["reason"]
    mc = res["mcnemar"]
    codes = ev.class_codes(names[ho], strong.classes_)
    assert mc == ab.mcnemar_test(a.argmax(1) == codes, b.argmax(1) == codes)
    assert res["metrics"]["accuracy"]["p_value"] == mc["p_value"]
    assert res["metrics"]["accuracy"]["test"].startswith("McNemar")
    assert set(res["metrics"]) == {
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "log_loss",
    }
    assert res["primary"] == "log_loss"
    _agrees(res)
    # the accuracy interval is McNemar's, in accuracy units, and holds the difference
    lo, hi = res["adjusted_intervals"]["accuracy"]["ci"]
    assert lo <= res["metrics"]["accuracy"]["difference"] <= hi
    assert res["adjusted_intervals"]["accuracy"]["method"].startswith("McNemar")


def test_binary_text_labels_with_the_negative_class_as_positive():
    rng = np.random.default_rng(1)
    y = rng.choice(["no", "yes"], 300)
    p_no_weak = np.clip((y == "no") * 0.15 + rng.random(300) * 0.85, 0, 1)
    p_no_strong = np.clip((y == "no") * 0.5 + rng.random(300) * 0.5, 0, 1)
    res = ab.compare_offline(
        y, p_no_weak, p_no_strong, task="binary", pos_label="no",
        metrics=["roc_auc", "accuracy"], n_boot=500,
    )  # fmt: skip
    assert res["decision"] == "promote", res["reason"]
    truth = y == "no"
    assert res["mcnemar"] == ab.mcnemar_test(
        (p_no_weak >= 0.5) == truth, (p_no_strong >= 0.5) == truth
    )
    assert res["metrics"]["accuracy"]["challenger"] == pytest.approx(
        ((p_no_strong >= 0.5) == truth).mean()
    )
    _agrees(res)


def test_mcnemar_inverted_interval_agrees_with_the_test():
    for b, c in [(3, 12), (5, 6), (0, 9), (30, 50), (40, 41), (10, 30), (0, 0)]:
        n = b + c + 60
        mc = ab.mcnemar_test(*_paired(b, c, n))
        p_at = ab.mcnemar_p_at(b, c, n)
        assert p_at(0.0) == pytest.approx(mc["p_value"], rel=1e-9, abs=1e-12)
        reach = (b + c) / n
        rejected = mc["p_value"] < ALPHA
        lo, hi = ab.inverted_bounds(
            p_at, estimate=(c - b) / n, null=0.0, null_rejected=rejected, k=1, alpha=ALPHA,
            low=-reach, high=reach,
        )  # fmt: skip
        assert (lo > 0 or hi < 0) == rejected, (b, c, lo, hi)
        assert lo <= (c - b) / n <= hi


def _paired(b: int, c: int, n: int):
    both = n - b - c
    champ = np.r_[np.ones(b), np.zeros(c), np.ones(both)].astype(bool)
    chall = np.r_[np.zeros(b), np.ones(c), np.ones(both)].astype(bool)
    return champ, chall


# --------------------------------------------------------------------------- regression


def test_wilcoxon_row_is_scipys_test_and_the_hodges_lehmann_shift():
    rng = np.random.default_rng(2)
    y = rng.normal(size=40)
    a = y + rng.normal(size=40)
    b = y + 0.6 * rng.normal(size=40)
    d = np.abs(b - y) - np.abs(a - y)
    row = ab.wilcoxon_abs_errors(y, a, b)
    assert row["p_value"] == stats.wilcoxon(d).pvalue
    i, j = np.triu_indices(len(d))
    assert row["difference"] == pytest.approx(np.median((d[i] + d[j]) / 2), abs=1e-9)
    res = ab.compare_offline(y, a, b, task="regression", n_boot=500)
    assert res["metrics"]["abs_error"]["p_value"] == row["p_value"]
    assert res["wilcoxon"]["p_value"] == row["p_value"]
    assert set(res["metrics"]) == {"mae", "rmse", "r2", "mape", "abs_error"}
    _agrees(res)


def test_a_clearly_better_regressor_is_promoted():
    rng = np.random.default_rng(3)
    X = rng.uniform(-3, 3, size=(900, 2))
    y = np.sin(2 * X[:, 0]) * 3 + X[:, 1] ** 2 + rng.normal(0, 0.5, 900)
    line = Ridge().fit(X[:600], y[:600])
    trees = GradientBoostingRegressor(random_state=0).fit(X[:600], y[:600])
    res = ab.compare_offline(
        y[600:], line.predict(X[600:]), trees.predict(X[600:]), task="regression", n_boot=1000
    )
    assert res["decision"] == "promote", res["reason"]
    assert "significantly better on rmse" in res["reason"] and "Holm-adjusted" in res["reason"]
    assert res["metrics"]["abs_error"]["p_adjusted"] < ALPHA
    _agrees(res)
    # and the other way round, the champion stays
    back = ab.compare_offline(
        y[600:], trees.predict(X[600:]), line.predict(X[600:]), task="regression", n_boot=1000
    )
    assert back["decision"] == "keep_champion" and "significantly worse" in back["reason"]


@pytest.mark.slow
def test_regression_aa_false_positive_rate_and_intervals_agree_in_every_repetition():
    # A true null: the same predictions plus independent noise of the same size for each
    # model, on a new target every repetition; the two models are exchangeable.
    rng = np.random.default_rng(20261203)
    n = 100
    promoted = 0
    for rep in range(AA_REPS):
        signal = rng.normal(0, 2, n)
        y = signal + rng.normal(0, 1, n)
        a = signal + rng.normal(0, 0.7, n)
        b = signal + rng.normal(0, 0.7, n)
        res = ab.compare_offline(y, a, b, task="regression", n_boot=200, seed=rep)
        promoted += res["decision"] == "promote"
        _agrees(res)
    rate = promoted / AA_REPS
    assert rate <= ALPHA + AA_TOL, rate


def test_adjusted_intervals_agree_with_holm_where_plain_ones_do_not():
    # Effects from none to clear, so that many comparisons sit near the boundary: in every
    # one the adjusted interval excludes 0 exactly when Holm rejects, for each task.
    rng = np.random.default_rng(7)
    seen = {"significant": 0, "not": 0, "plain_interval_disagrees": 0}
    for rep in range(120):
        effect = rng.uniform(0, 0.5)
        if rep % 3 == 0:  # regression
            signal = rng.normal(0, 2, 120)
            y = signal + rng.normal(0, 1, 120)
            res = ab.compare_offline(
                y, signal + rng.normal(0, 1, 120), signal + rng.normal(0, 1 - effect, 120),
                task="regression", n_boot=300, seed=rep,
            )  # fmt: skip
        elif rep % 3 == 1:  # binary
            y = rng.integers(0, 2, 200)
            a = np.clip(0.3 * y + 0.7 * rng.random(200), 0, 1)
            b = np.clip((0.3 + effect / 2) * y + (0.7 - effect / 2) * rng.random(200), 0, 1)
            res = ab.compare_offline(y, a, b, n_boot=300, seed=rep)
        else:  # multiclass
            y = rng.integers(0, 3, 200)
            a = _class_scores(rng, y, 0.4)
            b = _class_scores(rng, y, 0.4 + effect)
            res = ab.compare_offline(y, a, b, task="multiclass", n_boot=300, seed=rep)
        _agrees(res)
        for row in res["metrics"].values():
            significant = row["p_adjusted"] < ALPHA
            seen["significant" if significant else "not"] += 1
            plain_lo, plain_hi = row["ci"]
            if (plain_lo > 0 or plain_hi < 0) and not significant:
                seen["plain_interval_disagrees"] += 1
    assert seen["significant"] > 50 and seen["not"] > 50, seen
    # the problem the adjusted intervals solve is real: an unadjusted 95% interval beside a
    # Holm decision excludes 0 for some metric Holm calls not significant
    assert seen["plain_interval_disagrees"] > 0, seen


def _class_scores(rng: np.random.Generator, y: np.ndarray, signal: float) -> np.ndarray:
    logits = rng.normal(size=(len(y), 3))
    logits[np.arange(len(y)), y] += signal * 3
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- the intervals


def test_bootstrap_bounds_agree_with_the_bootstrap_p_value_at_every_holm_level():
    rng = np.random.default_rng(8)
    for trial in range(300):
        n = int(rng.integers(40, 400))
        draws = np.round(rng.normal(rng.uniform(-0.3, 0.3), 0.1, n), 1)  # many ties, and 0s
        below = (1 + int((draws <= 0).sum())) / (n + 1)
        above = (1 + int((draws >= 0).sum())) / (n + 1)
        p = min(1.0, 2 * min(below, above))
        for k in (1, 2, 3, 5):
            lo, hi = ab.bootstrap_bounds(draws, k, ALPHA)
            assert (lo > 0 or hi < 0) == (min(1.0, k * p) < ALPHA), (trial, k, lo, hi, p)
    draws = rng.normal(size=4000)
    lo, hi = ab.bootstrap_bounds(draws, 2, ALPHA)  # the 97.5% interval, within two ranks
    assert np.quantile(draws, 0.0125 - 2 / 4000) <= lo <= np.quantile(draws, 0.0125 + 2 / 4000)
    assert np.quantile(draws, 0.9875 - 2 / 4000) <= hi <= np.quantile(draws, 0.9875 + 2 / 4000)
    assert ab.bootstrap_bounds(draws[:30], 5, ALPHA) == (-math.inf, math.inf)  # too few draws


def test_holm_multipliers_follow_the_step_down():
    got = ab.holm_multipliers({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005}, ALPHA)
    # sorted d, a, c, b: 0.02, 0.03 rejected (steps 0, 1); c at 0.06 stops Holm at step 2
    assert got == {"d": (4, True), "a": (3, True), "c": (2, False), "b": (2, False)}


def test_the_reason_quotes_the_adjusted_interval():
    rng = np.random.default_rng(9)
    y = rng.integers(0, 2, 400)
    a = np.clip(0.3 * y + 0.7 * rng.random(400), 0, 1)
    b = np.clip(0.55 * y + 0.45 * rng.random(400), 0, 1)
    res = ab.compare_offline(y, a, b, metrics=["roc_auc", "accuracy", "log_loss"], n_boot=1000)
    assert res["decision"] == "promote", res["reason"]
    adj = res["adjusted_intervals"][res["primary"]]
    assert f"{adj['label']} CI" in res["reason"]
    table = ab.comparison_table(res)
    assert table.loc[res["primary"], "ci_low"] == adj["ci"][0]
    assert table.loc[res["primary"], "ci_level"] == adj["label"]
