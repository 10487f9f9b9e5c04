"""The monitor stage's label-free estimation and late labels, one call per notebook cell.

- :func:`fit_estimation`: CBPE's calibrator (classifiers) or DLE's loss models (regression)
  fitted on the reference, the calibration error recorded in the run (``estimation``);
- :func:`take_ids`: each batch's id column set aside (it is not a feature to test for drift);
  in demo mode, the covariate-drift batch once more without its labels
  (``covariate_drift_unlabelled``, ids its row numbers), its labels held back for the demo of late
  labels;
- :func:`keep_scored`: each batch's scored rows saved in the run (``scored_<batch>``), so
  labels can be joined later (``nbtrail monitor labels``);
- :func:`demo_late_labels`: in demo mode the held-back labels arrive, through the same library
  call the CLI makes;
- :func:`show_estimates`: estimate vs realised, a table and a plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.notebook.run import Run
from nbtrail.practices import monitoring as mon
from nbtrail.practices.monitoring.estimation import late_labels
from nbtrail.stages.demo_batches import DEMO

UNLABELLED_DEMO = "covariate_drift_unlabelled"
# Why estimates.png cannot come out the same when the run is re-executed: like history.png it
# shows the workspace's history (every unlabelled batch so far, and the labels that reached
# them since), not only this run's batches.
ESTIMATES_DIFFER = (
    "drawn from the workspace's estimate history (the unlabelled batches of every monitor run "
    "so far and the labels that arrived for them since), which grows with every run, the "
    "re-execution included"
)


def fit_estimation(
    run: Run,
    model: Any,
    reference: pd.DataFrame,
    *,
    features: Sequence[str],
    target: str,
    task: str | None,
    calibration: str,
    max_calibration_error: float,
    seed: int,
) -> mon.PerformanceEstimator | None:
    """The estimator fitted on the reference (None: this model cannot be estimated), its
    calibration recorded in the run and printed."""
    est = mon.fit_estimator(
        model,
        reference,
        features,
        target,
        task=task,
        calibration=calibration,
        max_calibration_error=max_calibration_error,
        seed=seed,
    )
    fitted = None if est is None else est.calibrator or est.loss
    run.note("estimation", None if fitted is None else fitted.to_dict())
    print(est.describe() if est is not None else "no label-free estimation for this model")
    return est


def take_ids(
    batches: dict[str, pd.DataFrame], *, batch: str, id_column: str, target: str
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.Series | None], pd.DataFrame | None]:
    """The batches without their id column, each batch's ids (None: its row numbers), and in
    demo mode the labels held back from ``covariate_drift_unlabelled``."""
    out, ids = dict(batches), {}
    held = None
    if batch == DEMO and "covariate_drift" in out and target in out["covariate_drift"]:
        drifted = out["covariate_drift"]
        out[UNLABELLED_DEMO] = drifted.drop(columns=[target])
        held = pd.DataFrame(
            {late_labels.ROW_ID: np.arange(len(drifted)), target: drifted[target].to_numpy()}
        )
    for name, frame in out.items():
        if id_column and id_column in frame.columns:
            ids[name] = frame[id_column]
            out[name] = frame.drop(columns=[id_column])
        else:
            ids[name] = None
    return out, ids, held


def keep_scored(
    run: Run,
    verdicts: Sequence[mon.Verdict],
    batches: Mapping[str, pd.DataFrame],
    ids: Mapping[str, pd.Series | None],
    model: Any,
    *,
    features: Sequence[str],
    target: str,
    task: str | None,
    id_column: str,
) -> None:
    """Each batch's scored rows saved as ``scored_<batch>`` (ids, predictions, probabilities);
    a batch that failed its data quality check (a missing column, a changed type) is not
    scored."""
    if model is None or task is None:
        return
    broken = {
        v.batch
        for v in verdicts
        if any(c.name == "data_quality" and c.status == mon.FAIL for c in v.checks)
    }
    for name, frame in batches.items():
        if name in broken:
            print(f"{name}: not scored (data quality failed), so no labels can be joined to it")
            continue
        given = ids.get(name)
        rows = frame if given is None else frame.assign(**{id_column: given.to_numpy()})
        scored = late_labels.scored_rows(
            model, rows, features, task, id_column=id_column if given is not None else None
        )
        path = run.output_path(f"{late_labels.scored_name(name)}.parquet")
        classes = getattr(model, "classes_", None)
        late_labels.write_scored(path, scored, target=target, task=task, classes=classes)
        run.save_file(late_labels.scored_name(name), path)


def demo_late_labels(run: Run, held: pd.DataFrame | None) -> None:
    """Demo mode: the labels held back from the unlabelled batch arrive, written to a file and
    joined by id as ``nbtrail monitor labels`` would."""
    if held is None:
        return
    path = run.output_path(f"labels_{UNLABELLED_DEMO}.csv")
    held.to_csv(path, index=False)
    if run.reproduces is not None:  # they arrived once, for the run it reproduces
        print(f"reproducing {run.reproduces}: late labels for {UNLABELLED_DEMO} not recorded again")
        return
    result = mon.record_labels(run.ws, UNLABELLED_DEMO, Path(path))
    print(f"late labels for {UNLABELLED_DEMO}: {result.labelled} of {result.rows} rows joined")


def show_estimates(run: Run, *, points: int) -> Path:
    """Estimate vs realised: the last lines printed, the plot saved in the run (its path),
    declared expected to differ on re-execution (:data:`ESTIMATES_DIFFER`)."""
    history = mon.estimate_history(run.ws)
    print(mon.format_estimates(history.tail(9)))
    keys = history.drop_duplicates(["created", "run_id", "batch"]).tail(points)
    recent = history.merge(keys[["created", "run_id", "batch"]], on=["created", "run_id", "batch"])
    fig = mon.plot_estimates(recent)
    path = run.output_path("estimates.png")
    fig.savefig(path, dpi=90)
    return run.save_file("estimates", path, kind="file", expected_to_differ=ESTIMATES_DIFFER)
