"""Building the scikit-learn pipeline that the train stage fits, from its parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import ParameterError
from nbtrail.practices.tasks import canonical_task, is_classification, task_of

__all__ = ["CLASSIFIERS", "REGRESSORS", "build_pipeline", "feature_columns", "task_of"]

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

CLASSIFIERS = (
    "logistic_regression",
    "hist_gradient_boosting",
    "random_forest",
    "gradient_boosting",
)
REGRESSORS = ("ridge", "hist_gradient_boosting", "random_forest", "gradient_boosting")


def feature_columns(
    frame: pd.DataFrame, target: str, features: list[str] | None, exclude: list[str]
) -> list[str]:
    cols = [c for c in frame.columns if c != target and c not in exclude]
    if features:
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ParameterError(
                f"features not in the data: {', '.join(missing)}",
                parameter="features",
                hint=f"columns: {', '.join(cols[:30])}",
            )
        cols = list(features)
    if not cols:
        raise ParameterError("no feature columns left", parameter="features")
    return cols


def build_pipeline(
    frame: pd.DataFrame,
    *,
    model: str,
    task: str,
    seed: int,
    hyper: dict[str, Any],
) -> Pipeline:
    """A ColumnTransformer (scale numeric, one-hot categorical) followed by the estimator;
    ``task`` is one of :data:`~nbtrail.practices.tasks.TASKS` (a classifier for binary and
    multiclass alike)."""
    import pandas as pd
    from sklearn import ensemble, linear_model
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    classifier = is_classification(canonical_task(task))
    allowed = CLASSIFIERS if classifier else REGRESSORS
    if model not in allowed:
        raise ParameterError(
            f"model {model!r} is not available for {task}",
            parameter="model",
            hint=f"choose one of: {', '.join(allowed)}",
        )
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    # Trees need no scaling, and scaling before them breaks ONNX parity: the exported graph
    # scales in float32, which moves values across split thresholds (export stage).
    scale = [StandardScaler()] if model in ("logistic_regression", "ridge") else []
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), *scale), numeric),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"),
                    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                ),
                categorical,
            ),
        ],
        remainder="drop",
    )
    h = dict(hyper)
    kind = "Classifier" if classifier else "Regressor"
    # the tree ensembles take the same settings for either task; only the class differs
    trees = {
        "hist_gradient_boosting": (
            f"HistGradientBoosting{kind}",
            {
                "learning_rate": h.get("learning_rate", 0.1),
                "max_depth": h.get("max_depth"),
                "max_iter": h.get("n_estimators", 100),
            },
        ),
        "random_forest": (
            f"RandomForest{kind}",
            {
                "n_estimators": h.get("n_estimators", 100),
                "max_depth": h.get("max_depth"),
                "n_jobs": 1,
            },
        ),
        "gradient_boosting": (
            f"GradientBoosting{kind}",
            {
                "learning_rate": h.get("learning_rate", 0.1),
                "max_depth": h.get("max_depth") or 3,
                "n_estimators": h.get("n_estimators", 100),
            },
        ),
    }
    if model in trees:
        cls, kwargs = trees[model]
        estimator = getattr(ensemble, cls)(random_state=seed, **kwargs)
    elif model == "logistic_regression":
        estimator = linear_model.LogisticRegression(
            C=h.get("C", 1.0), max_iter=h.get("max_iter", 1000)
        )
    else:  # ridge (regression only: checked against REGRESSORS above)
        estimator = linear_model.Ridge(alpha=1.0 / h.get("C", 1.0))
    return Pipeline([("prepare", pre), ("model", estimator)])
