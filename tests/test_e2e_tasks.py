"""The evaluate stage on each task, through the runner as a user runs it on a CSV of their
own: wine (multiclass, text class names), diabetes (regression) and a yes/no target with the
negative answer named as the positive class. Every stage runs, one at a time, with the
default model (HistGradientBoosting); the record keeps the task, the A/B against the baseline
is shown on the first run and its intervals agree with its decision, the export bundle is at
parity for the task, and monitoring gives the demo batches their expected verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from _project import by_stage, make_project, nbtrail
from sklearn.datasets import load_diabetes, load_wine

from nbtrail.practices import export as export_practice

pytestmark = pytest.mark.slow


def _wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "barolo", 1: "grignolino", 2: "barbera"})
    return frame  # "od280/od315_of_diluted_wines": a name skl2onnx changes for its graph


def _diabetes() -> pd.DataFrame:
    return load_diabetes(as_frame=True, scaled=False).frame


def _answers() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    logit = 2 * x[:, 0] - x[:, 1]
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["answer"] = np.where(rng.random(300) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return frame


CASES = {
    "multiclass": (_wine, "target", []),
    "regression": (_diabetes, "target", []),
    "binary": (_answers, "answer", ["-p", "evaluate.positive_class=no"]),
}


@pytest.mark.parametrize("task", list(CASES))
def test_every_stage_runs_each_task_on_a_csv_and_shows_the_ab(task, tmp_path):
    make, target, extra = CASES[task]
    root = make_project(tmp_path / "project")
    make().to_csv(root / "mine.csv", index=False)
    # The user's own data named in the data stage's params, so that every stage run alone
    # (its inputs: the latest upstream runs) resolves the same source and profiles.
    params = yaml.safe_load((root / "params" / "data.yaml").read_text())
    params.update(source="mine.csv", target=target)
    (root / "params" / "data.yaml").write_text(yaml.safe_dump(params))
    for stage in ("data", "train", "evaluate"):
        out = nbtrail(root, "run", "--stage", stage, *(extra if stage == "evaluate" else []))
        assert out.returncode == 0, (stage, out.stderr[-3000:])
    assert "A/B decision: promote vs baseline (dummy)" in out.stdout, out.stdout

    (train,) = by_stage(root)["train"]
    assert _output(root, train, "features")["task"] == task
    (run,) = by_stage(root)["evaluate"]
    assert run["status"] == "completed"
    evaluation = _output(root, run, "evaluation")
    ab = _output(root, run, "ab_offline")
    assert evaluation["task"] == ab["task"] == task
    for metric, row in ab["metrics"].items():
        adjusted = ab["adjusted_intervals"][metric]
        assert adjusted["excludes_zero"] == (row["p_adjusted"] < ab["alpha"]), metric
    if task == "binary":
        assert evaluation["positive_class"] == "no" and evaluation["classes"] == ["no", "yes"]
        assert "mcnemar" in ab
    elif task == "multiclass":
        assert evaluation["classes"] == ["barbera", "barolo", "grignolino"]
        assert "mcnemar" in ab and "accuracy" in ab["metrics"]
        per_class = _output(root, run, "per_class")
        assert [r["class"] for r in per_class] == evaluation["classes"]
        assert "f1_macro" in evaluation["intervals"]
    else:
        assert "wilcoxon" in ab and "abs_error" in ab["metrics"]
        assert {"mae", "rmse", "r2", "mape"} <= set(evaluation["intervals"])
        assert "ab_online" not in run["outputs"]
        assert "no online experiment" in (root / run["notebook"]["executed"]).read_text()

    for stage in ("export", "monitor"):  # monitor fails its run unless each demo batch
        out = nbtrail(root, "run", "--stage", stage)  # gets its expected verdict
        assert out.returncode == 0, (stage, out.stderr[-3000:])
    (export,) = by_stage(root)["export"]
    folder = root / "workspace" / "exports" / "mine" / "1"
    bundle = json.loads((folder / "bundle.json").read_text())
    assert bundle["task"] == ("regression" if task == "regression" else "classification")
    assert bundle["parity"]["max_abs_diff"] <= 1e-5, bundle["parity"]
    # the bundle alone, in a fresh `python -I`: ONNX Runtime agrees with the skops model
    onnx, skops = (export_practice.smoke_test(folder, engine=e) for e in ("onnx", "skops"))
    for got, want in zip(onnx["predictions"], skops["predictions"], strict=True):
        if task == "regression":
            assert got["prediction"] == pytest.approx(want["prediction"], rel=1e-5)
        else:
            assert got["label"] == want["label"]
            np.testing.assert_allclose(got["probabilities"], want["probabilities"], atol=1e-5)
    (monitor,) = by_stage(root)["monitor"]
    assert monitor["status"] == "completed" and export["status"] == "completed"


def _output(root: Path, record: dict, name: str):
    return json.loads((root / record["outputs"][name]["path"]).read_text())
