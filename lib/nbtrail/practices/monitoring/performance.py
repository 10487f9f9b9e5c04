"""Performance of a labelled batch against its baselines: one one-sided test per metric.

``max_drop`` is what a batch may lose before it counts as degraded:

- **accuracy, balanced accuracy** (higher is better): an absolute drop, the bound is
  ``baseline - max_drop``;
- **MAE, RMSE** (errors, lower is better): a *relative increase*, the bound is
  ``baseline * (1 + max_drop)`` (``max_drop = 0.05``: 5% larger errors than the baseline).

Each metric gets a one-sided test of "no worse than the bound" at level ``alpha``: a batch
**fails** when the test rejects (p < alpha), **warns** when its point value is past the bound
without significance, and passes otherwise. So a batch whose true performance is at the bound
fails at most ``alpha`` of the time (``tests/test_monitoring.py`` measures it).

- accuracy: the exact binomial test when the baseline is exact (its standard error 0); with a
  baseline standard error ``se_b`` (from the evaluation's interval) a score test of the
  difference of two proportions (the non-inferiority test of Farrington and Manning): the
  baseline counts as ``m = b (1 - b) / se_b^2`` rows, both accuracies are re-estimated under
  the null (the batch's exactly ``max_drop`` below the baseline's) and give the variance of
  ``acc - bound``. A Wald test with the baseline's own standard error alarms too often when
  the holdout happened to score high (its standard error is then small too).
- balanced accuracy (mean recall over the batch's classes): a z-test of
  ``(BA - bound) / sqrt(sum_k r~_k (1 - r~_k) / n_k / K^2 + se_b^2)`` with
  ``r~_k = (correct_k + 1) / (n_k + 2)``; the recalls are independent binomials given the
  class counts.
- MAE: a one-sided Student t-test (``n - 1`` df) of the mean absolute error against the bound,
  the bound's standard error ``(1 + max_drop) se_b`` added to the mean's; RMSE: the same on
  squared errors against ``bound^2`` (its standard error by the delta method). Squared and
  absolute errors are right-skewed, which makes the upper-tail t-test conservative.

:func:`metric_check` runs one metric's test (:func:`performance_check` is accuracy's);
:func:`performance_checks` splits its ``alpha`` over the task's metrics (Bonferroni).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import numpy as np
from scipy import stats

from nbtrail.practices.monitoring.baselines import Baseline
from nbtrail.practices.monitoring.task import ERROR_METRICS
from nbtrail.practices.monitoring.verdict import FAIL, PASS, WARN, Check


class _Outcome(NamedTuple):
    """A metric's value on the batch, the p-value of "no worse than the bound", a detail."""

    value: float
    p: float
    detail: str


def _se(se: float) -> str:
    return f" (se {se:.3g})" if se > 0 else ""


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray, b: Baseline, bound: float) -> _Outcome:
    n = int(len(y_true))
    correct = int(np.sum(y_true == y_pred))
    acc = correct / n
    ci = stats.binomtest(correct, n).proportion_ci(0.95, method="wilson")
    if b.se > 0 and 0 < b.value < 1:
        p, test = _pooled_accuracy_p(acc, n, b.value, b.se, b.value - bound), "one-sided score"
    else:
        p = float(stats.binomtest(correct, n, min(bound, 1.0), alternative="less").pvalue)
        test = "one-sided binomial"
    return _Outcome(acc, p, f"[95% CI {ci.low:.3f}, {ci.high:.3f}] ({test} p={p:.2g}, n={n})")


def _pooled_accuracy_p(acc: float, n: int, baseline: float, se: float, drop: float) -> float:
    """p-value of "accuracy >= baseline - drop" when the baseline is an estimate: a score
    test of the difference of two proportions, the variance taken at the estimates restricted
    to the null (Farrington-Manning style), the baseline's rows ``b (1 - b) / se^2``."""
    n_b = baseline * (1 - baseline) / se**2
    p_base = (n_b * baseline + n * (acc + drop)) / (n_b + n)
    p_base = min(max(p_base, drop), 1.0)
    p_batch = p_base - drop
    var = p_batch * (1 - p_batch) / n + p_base * (1 - p_base) / n_b
    diff = acc - (baseline - drop)
    if var <= 0:
        return 0.0 if diff < 0 else 1.0
    return float(stats.norm.cdf(diff / np.sqrt(var)))


def _balanced_accuracy(
    y_true: np.ndarray, y_pred: np.ndarray, b: Baseline, bound: float
) -> _Outcome:
    classes = np.unique(y_true)
    n_k = np.array([np.sum(y_true == c) for c in classes], dtype=float)
    c_k = np.array([np.sum((y_true == c) & (y_pred == c)) for c in classes], dtype=float)
    value = float(np.mean(c_k / n_k))
    r = (c_k + 1) / (n_k + 2)
    var = float(np.sum(r * (1 - r) / n_k)) / len(classes) ** 2
    p = float(stats.norm.cdf((value - bound) / np.sqrt(var + b.se**2)))
    return _Outcome(value, p, f"(one-sided z p={p:.2g}, n={len(y_true)}, {len(classes)} classes)")


def _error(metric: str) -> Callable[[np.ndarray, np.ndarray, Baseline, float], _Outcome]:
    def test(y_true: np.ndarray, y_pred: np.ndarray, b: Baseline, bound: float) -> _Outcome:
        err = np.asarray(y_pred, dtype=float) - np.asarray(y_true, dtype=float)
        n = len(err)
        bound_se = bound / b.value * b.se if b.value > 0 else 0.0  # (1 + max_drop) se_b
        if metric == "mae":
            loss, target, target_se = np.abs(err), bound, bound_se
        else:
            loss, target, target_se = err**2, bound**2, 2 * bound * bound_se
        mean = float(np.mean(loss))
        scale = float(np.sqrt(np.var(loss, ddof=1) / n + target_se**2)) if n > 1 else 0.0
        if scale > 0:
            p = float(stats.t.sf((mean - target) / scale, df=max(n - 1, 1)))
        else:
            p = 0.0 if mean > target else 1.0
        value = mean if metric == "mae" else float(np.sqrt(mean))
        return _Outcome(value, p, f"(one-sided t p={p:.2g}, n={n})")

    return test


_TESTS = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "mae": _error("mae"),
    "rmse": _error("rmse"),
}


def metric_check(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    baseline: float,
    max_drop: float,
    alpha: float,
    *,
    baseline_se: float = 0.0,
) -> Check:
    """``metric`` of the batch against its bound (``baseline - max_drop`` for an accuracy,
    ``baseline * (1 + max_drop)`` for an error): the one-sided test of the module docstring
    at level ``alpha``; ``baseline_se`` is the baseline's standard error (0: exact)."""
    if metric not in _TESTS:
        raise ValueError(f"no monitoring test for metric {metric!r}; known: {', '.join(_TESTS)}")
    error = metric in ERROR_METRICS
    bound = baseline * (1 + max_drop) if error else baseline - max_drop
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if not error and bound <= 0:
        value = _TESTS[metric](y_true, y_pred, Baseline(baseline), 0.5).value
        return Check("performance", PASS, f"{metric} {value:.3f} (no bound)", value, bound, metric)
    out = _TESTS[metric](y_true, y_pred, Baseline(baseline, baseline_se), bound)
    if error:
        against = f"baseline {baseline:.4g}{_se(baseline_se)} x (1 + {max_drop:g}) = {bound:.4g}"
        worse, shown = out.value > bound, f"{out.value:.4g}"
    else:
        against = f"baseline {baseline:.3f}{_se(baseline_se)} - {max_drop:g}"
        worse, shown = out.value < bound, f"{out.value:.3f}"
    status = FAIL if out.p < alpha else WARN if worse else PASS
    text = f"{metric} {shown} vs {against} {out.detail}"
    return Check("performance", status, text, out.value, bound, metric)


def performance_check(y_true: np.ndarray, y_pred: np.ndarray, *args: float, **kw: float) -> Check:
    """Accuracy (``baseline, max_drop, alpha`` and ``baseline_se`` as :func:`metric_check`'s)
    vs ``baseline - max_drop``: the one-sided exact binomial test (a score test when the
    baseline has a standard error)."""
    return metric_check("accuracy", y_true, y_pred, *args, **kw)


def performance_checks(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    baselines: Mapping[str, Baseline],
    max_drop: float,
    alpha: float,
) -> list[Check]:
    """One check per metric in ``baselines`` (in order), each at ``alpha / len(baselines)``
    (Bonferroni: the family fails a batch at the bound at most ``alpha`` of the time)."""
    each = alpha / max(len(baselines), 1)
    return [
        metric_check(m, y_true, y_pred, b.value, max_drop, each, baseline_se=b.se)
        for m, b in baselines.items()
    ]
