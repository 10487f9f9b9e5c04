"""Direct loss estimation (DLE): a regression model's MAE and RMSE on a batch without labels.

On the labelled reference rows a second model learns the first one's **absolute error** from
the features and the prediction (and another its **squared error**): scikit-learn's
``HistGradientBoostingRegressor``, shallow and with large leaves, since the reference is often a
few hundred rows. A batch's expected MAE is then the mean predicted absolute error, its RMSE the
square root of the mean predicted squared error. As with CBPE (:mod:`~.cbpe`) this holds under
covariate shift: the rows move, the error a row gets given its features does not.

How far to trust it is measured on rows the loss models did not see: ``folds``-fold cross-fitting
on the reference, the **relative error** of the cross-fitted expected MAE against the realised
one, ``|sum m_i - sum |e_i|| / sum |e_i|``. Above ``max_error`` (``DLE_MAX_ERROR``, 0.1) the
estimates are untrusted (shown, never failing a batch).

Intervals: the estimate's standard error over batches is ``sd(m) / sqrt(n)`` (the RMSE's by the
delta method); where the realised MAE will fall adds the cross-fitted residual spread
``sd(|e| - m)`` of single rows, ``z sqrt(se^2 + s^2 / n)`` (the RMSE's likewise on squared
errors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

DLE_MAX_ERROR = 0.1
FOLDS = 3


def loss_features(frame: pd.DataFrame, prediction: np.ndarray) -> pd.DataFrame:
    """The loss models' inputs: numeric and boolean columns as numbers, datetimes as
    nanoseconds, the rest as pandas categories, and the prediction."""
    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.astype("int64").astype(float).where(s.notna())
        elif pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            out[c] = s.astype(float)
        else:
            out[c] = s.astype(str).astype("category")
    out["__prediction"] = np.asarray(prediction, dtype=float)
    return pd.DataFrame(out, index=frame.index)


def _regressor(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=100,
        learning_rate=0.05,
        max_depth=3,
        min_samples_leaf=20,
        categorical_features="from_dtype",
        random_state=seed,
    )


def _one_thread() -> Any:
    """One OpenMP thread for the loss models: on a few thousand rows threads only add
    overhead, and on a busy machine many times over (34 s instead of 0.5 s measured here)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _fit(x: pd.DataFrame, loss: np.ndarray, seed: int) -> Any:
    with _one_thread():
        return _regressor(seed).fit(x, loss)


def _aligned(x: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """``x`` with the category levels of the frame the loss models were fitted on."""
    out = x.copy()
    for c in like.columns:
        if isinstance(like[c].dtype, pd.CategoricalDtype):
            out[c] = pd.Categorical(out[c].astype(str), categories=like[c].cat.categories)
    return out


@dataclass
class LossEstimator:
    """The fitted absolute- and squared-error models and their cross-fitted check."""

    abs_model: Any = field(repr=False)
    sq_model: Any = field(repr=False)
    like: pd.DataFrame = field(repr=False)
    relative_error: float
    abs_spread: float  # sd of |e| - m over single reference rows (cross-fitted)
    sq_spread: float
    rows: int
    max_error: float = DLE_MAX_ERROR

    @property
    def trusted(self) -> bool:
        return self.relative_error <= self.max_error

    def describe(self) -> str:
        state = "trusted" if self.trusted else "UNTRUSTED"
        return (
            f"direct loss estimation on {self.rows} reference rows: cross-fitted MAE off by "
            f"{self.relative_error:.1%} (max {self.max_error:.0%}): estimates {state}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": "dle",
            "relative_error": self.relative_error,
            "max_error": self.max_error,
            "trusted": self.trusted,
            "rows": self.rows,
        }

    def estimate(self, x: pd.DataFrame, level: float = 0.95) -> dict[str, dict[str, float]]:
        """Expected MAE and RMSE of the rows ``x`` (:func:`loss_features`), each with ``se``
        (over batches) and ``low``/``high`` (where the realised value will fall)."""
        xa = _aligned(x, self.like)
        with _one_thread():
            m = np.maximum(np.asarray(self.abs_model.predict(xa), dtype=float), 0.0)
            s = np.maximum(np.asarray(self.sq_model.predict(xa), dtype=float), 0.0)
        n = len(m)
        z = float(stats.norm.ppf(0.5 + level / 2))
        mae, mse = float(m.mean()), float(s.mean())
        se_mae = float(np.std(m, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        se_mse = float(np.std(s, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
        rmse = float(np.sqrt(mse))
        se_rmse = se_mse / (2 * rmse) if rmse > 0 else 0.0
        half_mae = z * np.sqrt(se_mae**2 + self.abs_spread**2 / n)
        half_mse = z * np.sqrt(se_mse**2 + self.sq_spread**2 / n)
        return {
            "mae": {
                "value": mae,
                "se": se_mae,
                "low": max(0.0, mae - half_mae),
                "high": mae + half_mae,
            },
            "rmse": {
                "value": rmse,
                "se": se_rmse,
                "low": float(np.sqrt(max(0.0, mse - half_mse))),
                "high": float(np.sqrt(mse + half_mse)),
            },
        }


def fit_loss_estimator(
    x: pd.DataFrame, prediction: np.ndarray, y: np.ndarray, *, seed: int = 0, folds: int = FOLDS
) -> LossEstimator:
    """Fit the loss models on the reference rows ``x`` (their features), the model's
    ``prediction`` and the labels ``y``; cross-fitted first to measure their error."""
    feats = loss_features(x, prediction)
    err = np.asarray(prediction, dtype=float) - np.asarray(y, dtype=float)
    absolute, squared = np.abs(err), err**2
    n = len(err)
    fold = np.random.default_rng(seed).permutation(n) % max(2, folds)
    m_cv, s_cv = np.empty(n), np.empty(n)
    for f in np.unique(fold):
        out = fold == f
        with _one_thread():
            m_cv[out] = _fit(feats[~out], absolute[~out], seed).predict(feats[out])
            s_cv[out] = _fit(feats[~out], squared[~out], seed).predict(feats[out])
    total = float(absolute.sum())
    rel = abs(float(np.maximum(m_cv, 0).sum()) - total) / total if total > 0 else 0.0
    return LossEstimator(
        abs_model=_fit(feats, absolute, seed),
        sq_model=_fit(feats, squared, seed),
        like=feats.head(0),
        relative_error=rel,
        abs_spread=float(np.std(absolute - m_cv, ddof=1)),
        sq_spread=float(np.std(squared - s_cv, ddof=1)),
        rows=n,
    )
