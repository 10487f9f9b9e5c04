"""Multivariate drift: a change in the joint distribution of the columns that no single
column's test shows (two columns whose correlation flips while each keeps its marginal).

The test is the reconstruction error of a PCA fitted on the reference (the idea of NannyML's
data reconstruction drift, with a test in place of its fixed threshold):

1. Every tested column is encoded from the rows the PCA is fitted on: numeric and datetime
   columns as numbers (missing values as that frame's median), categorical ones one-hot over
   their ``MAX_LEVELS`` most common values (missing is a value; the rest share an ``other``
   column); then each column is standardised.
2. A PCA keeps the components that explain ``VARIANCE`` of the variance (always dropping at
   least one): what the reference's correlations say a row should look like. A row's error is
   the distance between it and its projection; a batch whose columns no longer move together
   the reference's way lies off that subspace and its errors grow.
3. The threshold is learned on the reference rows the PCA did not see: the reference is
   split at random, ``FIT_SHARE`` of its rows fit the encoding and the PCA, the others are
   scored like the batch. Under no drift those held-out rows and the batch's rows are
   independent draws of one distribution given the fitted PCA, so the one-sided
   Mann-Whitney test of "batch errors are larger" is exact at any size; its AUC
   (``P(batch error > reference error)``) gives the effect ``2 AUC - 1``. (Scoring every
   reference row out of fold, K-fold, uses more rows but is not exact: on a 60-row
   reference it alarmed 7% of the time at level 5%.)

``multivariate_method = "classifier"`` tests with a domain classifier instead
(:mod:`~.domain_classifier`). The test becomes one more hypothesis (:data:`~.verdict.MULTIVARIATE`) in the batch's
Benjamini-Hochberg family, so the drift family keeps its false-alarm rate. Columns are named
by their share of the batch's excess squared error over the reference's (one-hot columns
summed back to the column they came from).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from nbtrail.practices.monitoring.drift import as_numbers
from nbtrail.practices.monitoring.verdict import MULTIVARIATE

VARIANCE = 0.65  # share of the reference's variance the kept components explain (NannyML's)
FIT_SHARE = 0.5  # of the reference rows: the PCA's; the others learn the error's threshold
MAX_LEVELS = 20  # one-hot columns per categorical column (the rest: "other")
MIN_REFERENCE_ROWS = 30
MIN_BATCH_ROWS = 5
_MISSING = "\x00missing"


@dataclass
class MultivariateResult:
    """The reconstruction-error test of one batch."""

    p_value: float
    auc: float  # P(a batch row's error > a reference row's error)
    effect: float  # 2 auc - 1
    error_ratio: float | None  # the batch mean error over the held-out reference rows (PCA)
    components: int  # kept by the PCA (0: the domain classifier)
    columns: int  # encoded columns (after one-hot)
    contributions: dict[str, float] = field(default_factory=dict)  # column -> share of excess
    method: str = "pca"  # pca (reconstruction error) or classifier (:mod:`.domain_classifier`)

    def top(self, k: int = 5) -> list[str]:
        """The (at most ``k``) columns holding more than an equal share of the excess error,
        largest first."""
        even = 1 / max(len(self.contributions), 1)
        ranked = sorted(self.contributions.items(), key=lambda kv: -kv[1])
        return [c for c, share in ranked[:k] if share > even]

    def row(self) -> dict[str, object]:
        """Its hypothesis in the BH family, shaped as a drift-table row (statistic: error ratio)."""
        return {
            "column": MULTIVARIATE,
            "kind": "joint",
            "test": self.method,
            "statistic": self.error_ratio,
            "p_value": self.p_value,
            "effect": self.effect,
        }


@dataclass
class ColumnEncoder:
    """Column encoding fitted on one frame (medians, levels, means and scales): numbers as
    they are (missing: the median), categories one-hot, then standardised."""

    kinds: Mapping[str, str]
    medians: dict[str, float] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    owners: list[str] = field(default_factory=list)

    def fit(self, frame: pd.DataFrame) -> ColumnEncoder:
        """Learn the encoding from ``frame``; returns itself."""
        for col, kind in self.kinds.items():
            if kind == "cat":
                values, counts = np.unique(_categories(frame[col]), return_counts=True)
                top = np.argsort(-counts, kind="stable")[:MAX_LEVELS]
                self.levels[col] = [str(v) for v in values[top]]
            else:
                x = as_numbers(frame[col])
                x = x[np.isfinite(x)]
                self.medians[col] = float(np.median(x)) if len(x) else 0.0
        raw, self.owners = self._raw(frame)
        self.mean = raw.mean(axis=0)
        sd = raw.std(axis=0)
        self.scale = np.where(sd > 0, sd, 1.0)
        return self

    def _raw(self, frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        blocks, owners = [], []
        for col, kind in self.kinds.items():
            if kind == "cat":
                values = _categories(frame[col])
                levels = self.levels[col]
                known = np.isin(values, levels)
                blocks += [(values == lv).astype(float) for lv in levels]
                blocks.append((~known).astype(float))
                owners += [col] * (len(levels) + 1)
            else:
                x = as_numbers(frame[col])
                blocks.append(np.where(np.isfinite(x), x, self.medians[col]))
                owners.append(col)
        return np.column_stack(blocks), owners

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """``frame`` encoded: one row per row, one column per entry of ``owners``."""
        raw, _ = self._raw(frame)
        return (raw - self.mean) / self.scale


def _categories(s: pd.Series) -> np.ndarray:
    a = s.to_numpy(dtype=object)
    out = a.astype(str)
    out[pd.isna(a)] = _MISSING
    return out


def _components(x: np.ndarray, variance: float) -> np.ndarray:
    """The principal axes (rows) explaining ``variance`` of ``x``'s (centred) variance,
    at least one and at most all but one."""
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    ev = s**2
    total = float(ev.sum())
    if total <= 0:
        return vt[:1]
    k = int(np.searchsorted(np.cumsum(ev) / total, variance) + 1)
    return vt[: max(1, min(k, x.shape[1] - 1))]


def _residuals(x: np.ndarray, centre: np.ndarray, axes: np.ndarray) -> np.ndarray:
    z = x - centre
    return z - (z @ axes.T) @ axes


def multivariate_test(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    kinds: Mapping[str, str],
    *,
    seed: int = 0,
    variance: float = VARIANCE,
) -> MultivariateResult | None:
    """The PCA reconstruction-error test of ``batch`` against ``reference`` over the columns
    in ``kinds`` (:func:`~.drift.column_kinds`); None when there is too little to test (fewer
    than two columns, ``MIN_REFERENCE_ROWS`` reference rows or ``MIN_BATCH_ROWS`` batch rows)."""
    cols = {c: k for c, k in kinds.items() if c in reference.columns and c in batch.columns}
    if len(reference) < MIN_REFERENCE_ROWS or len(batch) < MIN_BATCH_ROWS or not cols:
        return None
    order = np.random.default_rng(seed).permutation(len(reference))
    cut = int(len(reference) * FIT_SHARE)
    fit_rows, held = reference.iloc[np.sort(order[:cut])], reference.iloc[np.sort(order[cut:])]
    enc = ColumnEncoder(cols).fit(fit_rows)
    if len(enc.owners) < 2:
        return None
    x_fit = enc.transform(fit_rows)
    axes, centre = _components(x_fit, variance), x_fit.mean(axis=0)
    names = list(cols)
    owner = np.array([names.index(c) for c in enc.owners])
    to_column = (owner[:, None] == np.arange(len(names))).astype(float)
    res_r = _residuals(enc.transform(held), centre, axes) ** 2
    res_c = _residuals(enc.transform(batch), centre, axes) ** 2
    err_r, err_c = np.sqrt(res_r.sum(axis=1)), np.sqrt(res_c.sum(axis=1))
    test = stats.mannwhitneyu(err_c, err_r, alternative="greater")
    auc = float(test.statistic) / (len(err_c) * len(err_r))
    excess = np.clip((res_c @ to_column).mean(axis=0) - (res_r @ to_column).mean(axis=0), 0, None)
    total = float(excess.sum())
    mean_r = float(err_r.mean())
    return MultivariateResult(
        p_value=float(test.pvalue),
        auc=auc,
        effect=2 * auc - 1,
        error_ratio=float(err_c.mean()) / mean_r if mean_r > 0 else float("inf"),
        components=len(axes),
        columns=len(enc.owners),
        contributions={c: float(v) / total for c, v in zip(names, excess, strict=True)}
        if total > 0
        else {},
    )
