"""The baseline every model must beat: a dummy (class prior or mean) or a simple linear
model, fitted on the same training rows, and the relative gate that compares with it.

A gate such as ``min_roc_auc: 0.9`` only means something for the dataset it was tuned on;
"significantly better than a model that learned nothing (or only a straight line)" means
something for every dataset, so it is the default gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation import GateResult
from nbtrail.practices.tasks import canonical_task, is_classification

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

BASELINES = ("dummy", "linear")


def build_baseline(frame: pd.DataFrame, *, kind: str, task: str, seed: int) -> Pipeline:
    """An unfitted baseline for ``task`` taking the same columns as ``frame``: ``dummy``
    predicts the training class frequencies (or the mean), ``linear`` is a logistic (or
    ridge) regression on the same prepared features as the trained model."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.pipeline import Pipeline

    from nbtrail.practices.training import build_pipeline

    if kind not in BASELINES:
        raise ParameterError(
            f"baseline {kind!r} is not known", parameter="baseline", valid=list(BASELINES)
        )
    classifier = is_classification(canonical_task(task))
    if kind == "linear":
        model = "logistic_regression" if classifier else "ridge"
        return build_pipeline(frame, model=model, task=task, seed=seed, hyper={})
    dummy = DummyClassifier(strategy="prior") if classifier else DummyRegressor()
    return Pipeline([("model", dummy)])


def gain_gate(
    comparison: Mapping[str, Any], *, min_gain: float | None, alpha: float
) -> GateResult | None:
    """The relative gate: the primary metric of the paired comparison with the baseline
    must improve by at least ``min_gain`` *and* the improvement must be significant
    (Holm-adjusted p < ``alpha``). ``None`` (no gate) when ``min_gain`` is None."""
    if min_gain is None:
        return None
    primary = comparison["primary"]
    row = comparison["metrics"][primary]
    improvement = float(row["improvement"])
    p = row["p_adjusted"]
    significant = p is not None and float(p) < alpha
    p_text = f"{float(p):.3g}" if p is not None else "not computed"
    if p is None:
        unmet = "its significance could not be computed"
    elif not significant:
        unmet = f"the gain is not significant (Holm-adjusted p = {p_text}, alpha {alpha:g})"
    else:
        unmet = ""
    return GateResult(
        name="gain_over_baseline",
        metric=primary,
        op=">=",
        value=improvement,
        bound=float(min_gain),
        passed=bool(significant and improvement >= float(min_gain)),
        on=f"significance (Holm-adjusted p = {p_text}, alpha {alpha})",
        quantity=f"{primary} gain over the baseline",
        unmet=unmet if improvement >= float(min_gain) or p is None else "",
    )
