"""What the evaluate stage works on, gathered in one call: the trained model and its
features, the holdout (and training) rows, the scores, the task, and the champion it meets.

Bad input fails here, before anything is recorded: the columns the parameters name, and a
champion whose input schema differs from this model's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.notebook.run import Run
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.practices.sources import dataset_name_for, part
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
    pos_label: Any
    train: pd.DataFrame
    holdout: pd.DataFrame
    y: pd.Series
    score: np.ndarray
    champion: dict[str, Any] | None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """The model's scores for ``frame`` (positive-class probability or prediction)."""
        return np.asarray(ev.score_function(self.model, self.task, self.columns)(frame))

    def champion_label(self) -> str:
        """``name@version`` of the champion, or ``none yet``."""
        if self.champion is None:
            return "none yet"
        return f"{self.model_name}@{self.champion['version']}"

    def describe(self, run: Run) -> str:
        """One line for the notebook: task, rows, features, where the model came from."""
        return (
            f"{self.task}: {len(self.holdout):,} holdout rows, {len(self.columns)} features; "
            f"model from {run.upstream['train']}; champion: {self.champion_label()}"
        )


def dataset_name(run: Run) -> str:
    """The dataset's name, which the model is registered under by default: the name of the
    data stage's source (a file's stem, a stored dataset's name), so a file and its stored
    version share one champion."""
    params = run.upstream_record("data")["params"]
    return dataset_name_for(str(params.get("source", "")))


def load_inputs(
    run: Run,
    *,
    model_name: str | None,
    slices: Any = None,
    behavioural: dict[str, Any] | None = None,
) -> EvaluationInputs:
    """Read the train stage's model and features and the data stage's snapshot, score the
    holdout, check the parameters' columns and find the champion of ``model_name``
    (default: the dataset's name, so each dataset keeps its own champion lineage)."""
    features = run.read_json("train", "features")
    model = run.load_model("train", "model")
    snapshot = run.read_dataset("data", "snapshot")
    holdout = part(snapshot, "holdout").reset_index(drop=True)
    train = part(snapshot, "train").reset_index(drop=True)
    target = features["target"]
    y = holdout[target]
    task = ev.infer_task(y)
    pos_label = model.classes_[1] if task == "classification" else None
    name = model_name or dataset_name(run)
    if isinstance(slices, dict) or isinstance(slices, list):
        ev.validate_plan(holdout, slices=slices, behavioural=behavioural)
    else:
        ev.validate_plan(holdout, behavioural=behavioural)
    digest = run.upstream_record("train")["outputs"]["model"]["digest"]
    champion = find_champion(run.ws, name)
    if champion is not None and champion["digest"] != digest:
        ab.check_same_schema(ab.model_input_schema(champion["model"]), ab.model_input_schema(model))
    inputs = EvaluationInputs(
        model=model,
        model_digest=digest,
        model_name=name,
        columns=list(features["columns"]),
        target=target,
        task=task,
        pos_label=pos_label,
        train=train,
        holdout=holdout,
        y=y,
        score=np.empty(0),
        champion=champion,
    )
    inputs.score = inputs.predict(holdout)
    return inputs
