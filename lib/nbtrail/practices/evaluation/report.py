"""The Evidently 0.7 classification or regression preset on a scored holdout, as a
``Snapshot``, and its metrics as plain values: binary (one probability column, the
positive class named), multiclass (one probability column per class, named by the class,
and the predicted label), regression (the prediction)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation.jsonable import plain
from nbtrail.practices.evaluation.targets import require_columns
from nbtrail.practices.tasks import canonical_task


def evidently_report(
    current: pd.DataFrame,
    *,
    target: str,
    score: str | Sequence[str],
    task: str = "binary",
    reference: pd.DataFrame | None = None,
    pos_label: Any = 1,
    threshold: float = 0.5,
    columns: Sequence[str] = (),
    prediction: str | None = None,
) -> Any:
    """Run Evidently's classification (or regression) preset and return its ``Snapshot``.

    ``score`` is the positive-class probability column (binary), the list of probability
    columns, each named by its class as the target's values are written (multiclass, with
    ``prediction`` the predicted label's column), or the regression prediction. With
    ``reference`` (for example the champion's scored holdout, with the challenger as
    ``current``) the report shows both side by side."""
    from evidently import (
        BinaryClassification,
        DataDefinition,
        Dataset,
        MulticlassClassification,
        Regression,
        Report,
    )
    from evidently.presets import ClassificationPreset, RegressionPreset

    kind = canonical_task(task)
    scores = [score] if isinstance(score, str) else list(score)
    labels = [prediction] if prediction else []
    wanted = [target, *scores, *labels, *columns]
    require_columns(current, wanted, "evidently columns")
    if reference is not None:
        require_columns(reference, wanted, "evidently columns")
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(current[c])]
    categorical = [c for c in columns if c not in numeric]
    if kind != "multiclass" and len(scores) != 1:
        raise ParameterError(
            f"a {kind} report takes one score column, got {len(scores)}", parameter="score"
        )
    if kind == "binary":
        definition = DataDefinition(
            classification=[
                BinaryClassification(
                    target=target, prediction_probas=scores[0], pos_label=pos_label
                )
            ],
            numerical_columns=numeric,
            categorical_columns=categorical,
        )
        preset = ClassificationPreset(probas_threshold=threshold)
    elif kind == "multiclass":
        definition = DataDefinition(
            classification=[
                MulticlassClassification(
                    target=target, prediction_labels=prediction, prediction_probas=scores
                )
            ],
            numerical_columns=numeric,
            categorical_columns=categorical,
        )
        preset = ClassificationPreset()
    else:
        definition = DataDefinition(
            regression=[Regression(target=target, prediction=scores[0])],
            numerical_columns=numeric,
            categorical_columns=categorical,
        )
        preset = RegressionPreset()
    cur = Dataset.from_pandas(current[wanted].reset_index(drop=True), data_definition=definition)
    ref = None
    if reference is not None:
        ref = Dataset.from_pandas(
            reference[wanted].reset_index(drop=True), data_definition=definition
        )
    with warnings.catch_warnings():
        # Evidently's regression quality computes R2 per bin of rows, and a bin of one row
        # makes scikit-learn warn "R^2 score is not well-defined": noise, not our data.
        warnings.filterwarnings("ignore", message="R\\^2 score is not well-defined")
        # A baseline that predicts one class (the dummy) leaves the others' precision
        # undefined; Evidently shows it as 0, scikit-learn warns each time it is computed.
        warnings.filterwarnings("ignore", message="Precision is ill-defined")
        return Report([preset]).run(cur, ref)


def snapshot_metrics(snapshot: Any) -> dict[str, Any]:
    """``{metric_name: value}`` from an Evidently snapshot (JSON-able)."""
    return plain({m["metric_name"]: m["value"] for m in snapshot.dict()["metrics"]})
