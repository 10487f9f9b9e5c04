"""Performance of a labelled batch: accuracy against the baseline, exact binomial test."""

from __future__ import annotations

import numpy as np
from scipy import stats

from nbtrail.practices.monitoring.verdict import FAIL, PASS, WARN, Check


def performance_check(
    y_true: np.ndarray, y_pred: np.ndarray, baseline: float, max_drop: float, alpha: float
) -> Check:
    """Accuracy vs ``baseline - max_drop``: one-sided exact binomial test at level ``alpha``."""
    n = int(len(y_true))
    correct = int(np.sum(np.asarray(y_true) == np.asarray(y_pred)))
    acc = correct / n
    bound = baseline - max_drop
    if bound <= 0:
        return Check("performance", PASS, f"accuracy {acc:.3f} (no bound)", acc, bound)
    p = float(stats.binomtest(correct, n, min(bound, 1.0), alternative="less").pvalue)
    ci = stats.binomtest(correct, n).proportion_ci(0.95, method="wilson")
    text = (
        f"accuracy {acc:.3f} [95% CI {ci.low:.3f}, {ci.high:.3f}] vs baseline {baseline:.3f}"
        f" - {max_drop:g} (one-sided binomial p={p:.2g}, n={n})"
    )
    status = FAIL if p < alpha else WARN if acc < bound else PASS
    return Check("performance", status, text, acc, bound)
