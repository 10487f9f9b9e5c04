"""What the evaluate stage works on, gathered in one call: the trained model and its
features, the holdout (and training) rows, the task (the one the train stage decided and
recorded), the classes and the positive class, the scores, and the champion it meets.

Bad input fails here, before anything is recorded: the columns the parameters name, a
positive class that is not a class, and a champion whose input schema differs from this
model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.notebook.run import Run
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.practices.sources import dataset_name_for, part
from nbtrail.practices.tasks import TASKS, is_classification, positive_class, task_of
from nbtrail.runs import records
from nbtrail.stages.champion import find_champion


@dataclass
class EvaluationInputs:
    """The trained model, the rows it is judged on, and the champion it meets."""

    model: Any
    model_digest: str
    model_name: str
    columns: list[str]
    target: str
    task: str
    classes: list[Any] | None
    pos_label: Any
    train: pd.DataFrame
    holdout: pd.DataFrame
    y: pd.Series
    score: np.ndarray
    champion: dict[str, Any] | None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's scores for ``frame``: the positive-class probability (binary), every
        class's probability (multiclass, columns in :attr:`classes` order), the prediction
        (regression)."""
        return self.scores_of(self.model, frame)

    def scores_of(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """``model``'s scores for ``frame``, as :meth:`predict` gives them (the champion's
        classes must be this model's, in the same order)."""
        if self.classes is not None and list(model.classes_) != self.classes:
            raise DataError(
                f"the champion's classes {list(model.classes_)} are not this model's "
                f"{self.classes}",
                hint="a champion of another target: use another model_name",
            )
        score = ev.score_function(model, self.task, self.columns, positive_class=self.pos_label)
        return np.asarray(score(frame))

    @property
    def classification(self) -> bool:
        """Whether the task is binary or multiclass."""
        return is_classification(self.task)

    def bootstrap_target(self) -> dict[str, Any]:
        """What every bootstrap over the holdout needs to read the target and the scores."""
        return {"task": self.task, "pos_label": self.pos_label, "classes": self.classes}

    def champion_label(self) -> str:
        """``name@version`` of the champion, or ``none yet``."""
        if self.champion is None:
            return "none yet"
        return f"{self.model_name}@{self.champion['version']}"

    def describe(self, run: Run) -> str:
        """One line for the notebook: task, classes, rows, features, where the model came
        from."""
        what = self.task
        if self.task == "binary":
            what += f" (positive class {self.pos_label!r} of {self.classes})"
        elif self.classes is not None:
            what += f" ({len(self.classes)} classes)"
        return (
            f"{what}: {len(self.holdout):,} holdout rows, {len(self.columns)} features; "
            f"model from {run.upstream['train']}; champion: {self.champion_label()}"
        )


def dataset_name(run: Run) -> str:
    """The dataset's name, which the model is registered under by default: the name of the
    data stage's source (a file's stem, a stored dataset's name), so a file and its stored
    version share one champion."""
    params = run.upstream_record("data")["params"]
    return dataset_name_for(str(params.get("source", "")))


def original_start(run: Run) -> str | None:
    """When the run that ``run`` reproduces started (None: ``run`` is no reproduction)."""
    if run.reproduces is None:
        return None
    return records.load(run.ws, run.reproduces)["started"]


def load_inputs(
    run: Run,
    *,
    model_name: str | None,
    slices: Any = None,
    behavioural: dict[str, Any] | None = None,
    positive_class_name: Any = None,
) -> EvaluationInputs:
    """Read the train stage's model and features and the data stage's snapshot, score the
    holdout, check the parameters' columns and find the champion of ``model_name``
    (default: the dataset's name, so each dataset keeps its own champion lineage).

    The task is the one the train stage recorded (decided from the training target by
    :func:`~nbtrail.practices.tasks.task_of`); a binary model's positive class is
    ``positive_class_name`` or, when None, the last of its sorted classes."""
    features = run.read_json("train", "features")
    model = run.load_model("train", "model")
    snapshot = run.read_dataset("data", "snapshot")
    holdout = part(snapshot, "holdout").reset_index(drop=True)
    train = part(snapshot, "train").reset_index(drop=True)
    target = features["target"]
    y = holdout[target]
    # The train stage's decision; a record from before tasks were told apart (no task, or
    # "classification") is decided again from the same training rows, by the same rule.
    task = features.get("task")
    if task not in TASKS:
        task = task_of(train[target])
    classes = list(model.classes_) if is_classification(task) else None
    pos_label = None
    if task == "binary" and classes is not None:
        pos_label = positive_class(classes, positive_class_name)
    name = model_name or dataset_name(run)
    named_slices = slices if isinstance(slices, (dict, list)) else None
    ev.validate_plan(
        holdout,
        slices=named_slices,
        behavioural=behavioural,
        classes=classes if task == "multiclass" else None,
    )
    digest = run.upstream_record("train")["outputs"]["model"]["digest"]
    champion = find_champion(run.ws, name, as_of=original_start(run))
    if champion is not None and champion["digest"] != digest:
        ab.check_same_schema(ab.model_input_schema(champion["model"]), ab.model_input_schema(model))
    inputs = EvaluationInputs(
        model=model,
        model_digest=digest,
        model_name=name,
        columns=list(features["columns"]),
        target=target,
        task=task,
        classes=classes,
        pos_label=pos_label,
        train=train,
        holdout=holdout,
        y=y,
        score=np.empty(0),
        champion=champion,
    )
    inputs.score = inputs.predict(holdout)
    return inputs
