"""Building the scikit-learn pipeline that the train stage fits, from its parameters."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import ParameterError
from nbtrail.practices.tasks import canonical_task, is_classification
from nbtrail.practices.tasks import task_of as task_of  # the train notebook's name for it

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


MAX_CATEGORIES = 20  # one-hot columns per categorical feature: its most frequent levels
MIN_LEVEL_ROWS = 5  # a level seen on fewer training rows is encoded like an unseen one


@dataclass
class FeaturePlan:
    """The columns the model is fed, chosen from the dtypes, and those left out (and why)."""

    columns: list[str]
    numeric: list[str]
    categorical: list[str]
    left_out: list[dict[str, str]] = field(default_factory=list)  # {column, reason}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def lines(self) -> list[str]:
        """A summary line naming the columns left out (none when nothing was)."""
        if not self.left_out:
            return []
        return ["left out: " + "; ".join(f"{d['column']} ({d['reason']})" for d in self.left_out)]


def is_datetime(s: pd.Series) -> bool:
    """Datetime and timedelta columns: never fed raw to a model."""
    import pandas as pd

    return bool(pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s))


def plan_features(
    frame: pd.DataFrame, target: str, features: list[str] | None, exclude: list[str]
) -> FeaturePlan:
    """Every column but the target, the ``exclude``d ones (id, time) and datetimes, or exactly
    ``features``; numeric (and boolean) columns are imputed, the others one-hot encoded."""
    import pandas as pd

    left_out = [
        {
            "column": str(c),
            "reason": "the data stage's id or time column"
            + (" (a datetime)" if c in frame.columns and is_datetime(frame[c]) else ""),
        }
        for c in exclude
        if c
    ]
    if features:
        missing = [f for f in features if f not in frame.columns]
        if missing:
            raise ParameterError(
                f"features not in the data: {', '.join(missing)}",
                parameter="features",
                hint=f"columns: {', '.join(map(str, frame.columns[:30]))}",
            )
        dated = [f for f in features if is_datetime(frame[f])]
        if dated:
            raise ParameterError(
                f"datetime columns cannot be features: {', '.join(dated)}",
                parameter="features",
                hint="derive numeric features from them before the data stage",
            )
        cols = list(features)
    else:
        cols = []
        for c in frame.columns:
            if c == target or c in exclude:
                continue
            if is_datetime(frame[c]):
                left_out.append({"column": str(c), "reason": "datetime: not fed raw to the model"})
            else:
                cols.append(c)
    if not cols:
        raise ParameterError("no feature columns left", parameter="features")
    numeric = [c for c in cols if pd.api.types.is_numeric_dtype(frame[c])]
    categorical = [c for c in cols if c not in numeric]
    return FeaturePlan(cols, numeric, categorical, left_out)


def feature_columns(
    frame: pd.DataFrame, target: str, features: list[str] | None, exclude: list[str]
) -> list[str]:
    """The feature columns of :func:`plan_features`."""
    return plan_features(frame, target, features, exclude).columns


def category_levels(s: pd.Series, max_categories: int = MAX_CATEGORIES) -> list[Any]:
    """The levels of ``s`` one-hot encoded: the ``max_categories`` most frequent of those seen
    on at least :data:`MIN_LEVEL_ROWS` rows (ties by value). Rarer levels, unseen ones and
    missing values all encode as zeros: for a high-cardinality column that bounds the width,
    and the same explicit categories convert to ONNX exactly (skl2onnx gets scikit-learn's
    ``infrequent`` bucket wrong)."""
    counts = s.dropna().value_counts()
    ranked = sorted(
        ((int(n), str(v), v) for v, n in counts.items() if n >= MIN_LEVEL_ROWS),
        key=lambda t: (-t[0], t[1]),
    )
    kept = [v.item() if hasattr(v, "item") else v for _, _, v in ranked[:max_categories]]
    try:
        return sorted(kept)  # numeric categories must be sorted for OneHotEncoder
    except TypeError:
        return kept


def build_pipeline(
    frame: pd.DataFrame,
    *,
    model: str,
    task: str,
    seed: int,
    hyper: dict[str, Any],
    max_categories: int = MAX_CATEGORIES,
) -> Pipeline:
    """A ColumnTransformer followed by the estimator, chosen from ``frame``'s dtypes: numeric
    (and boolean) columns get their missing values imputed with the training median (and are
    scaled for linear models); other columns are one-hot encoded on their most frequent levels
    (:func:`category_levels`), a missing value encoding as no level. ``task`` is one of
    :data:`~nbtrail.practices.tasks.TASKS` (a classifier for binary and multiclass alike)."""
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
    dated = [str(c) for c in frame.columns if is_datetime(frame[c])]
    if dated:
        raise ParameterError(
            f"datetime columns cannot be features: {', '.join(dated)}", parameter="features"
        )
    # Trees need no scaling, and scaling before them breaks ONNX parity: the exported graph
    # scales in float32, which moves values across split thresholds (export stage).
    scale = [StandardScaler()] if model in ("logistic_regression", "ridge") else []
    steps: list[tuple[str, Any, list[Any]]] = [
        ("num", make_pipeline(SimpleImputer(strategy="median"), *scale), numeric)
    ]
    if categorical:
        levels = [category_levels(frame[c], max_categories) for c in categorical]
        encoder = OneHotEncoder(categories=levels, handle_unknown="ignore", sparse_output=False)
        steps.append(("cat", encoder, categorical))
    pre = ColumnTransformer(steps, remainder="drop")
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
