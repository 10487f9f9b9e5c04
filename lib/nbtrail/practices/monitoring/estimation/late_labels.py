"""Labels that arrive after a batch was monitored, joined to it by id.

When the monitor stage judges a batch it keeps its **scored rows** as an output of the run
(``scored_<batch>``, a Parquet file whose hash is in the run record): the id column (the stage's
``id_column``; the row number ``_row`` when it names none), the model's predicted class or value
and, for a classifier, its raw class probabilities, with the target's name, the task and the
classes in the file's metadata. So the realised performance can be computed later from the
labels alone, whatever became of the batch file.

:func:`record_labels` (``nbtrail monitor labels BATCH LABELS_FILE``) finds the latest monitor
run that judged ``BATCH`` (the monitoring history), verifies its scored rows against the record,
joins the labels file (CSV or Parquet: the id column and the target) to them by id, computes the
realised metrics with the same formulas the estimates use (:func:`~.cbpe.realised_metrics`,
:func:`~nbtrail.practices.monitoring.baselines.metric_value`), versions the labels file in the
data store (``labels_<batch>``) and appends a ``labels`` record to the monitoring log, beside the
estimate (:mod:`~.ledger`). Label ids that match no scored row are refused, naming how many.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.applog import log_writer, read_log
from nbtrail.core.errors import DataError, IntegrityError, NotFound
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.practices.monitoring.baselines import metric_value
from nbtrail.practices.monitoring.batch_sources import read_batch_file
from nbtrail.practices.monitoring.estimation.cbpe import realised_metrics
from nbtrail.practices.monitoring.estimation.estimator import class_index
from nbtrail.practices.monitoring.estimation.ledger import estimate_history
from nbtrail.practices.monitoring.task import REGRESSION
from nbtrail.runs import records
from nbtrail.runs.runfolder import STATE_FILE

ROW_ID = "_row"  # the id of a batch monitored without an id column: its row number
PREDICTED = "_predicted"
META_KEY = b"nbtrail"


def scored_name(batch: str) -> str:
    """The monitor run's output holding ``batch``'s scored rows."""
    return f"scored_{batch}"


def scored_rows(
    model: Any,
    batch: pd.DataFrame,
    features: Sequence[str],
    task: str,
    *,
    id_column: str | None = None,
) -> pd.DataFrame:
    """The batch's ids, the model's predictions and (classifiers) raw class probabilities."""
    x = batch[list(features)]
    ids = batch[id_column] if id_column else pd.Series(np.arange(len(batch)), index=batch.index)
    out = pd.DataFrame({id_column or ROW_ID: ids.to_numpy()})
    if id_column and out[id_column].duplicated().any():
        n = int(out[id_column].duplicated().sum())
        raise DataError(
            f"id column {id_column!r} repeats {n} id(s) in the batch", parameter="id_column"
        )
    pred = np.asarray(model.predict(x))
    out[PREDICTED] = pred.astype(float) if task == REGRESSION else pred.astype(str)
    if task != REGRESSION and hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(x), dtype=float)
        for k in range(proba.shape[1]):
            out[f"_proba_{k}"] = proba[:, k]
    return out


def write_scored(
    path: Path, scored: pd.DataFrame, *, target: str, task: str, classes: Sequence[Any] | None
) -> Path:
    """``scored`` as Parquet at ``path``, what it holds in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(scored, preserve_index=False)
    meta = {
        "id_column": str(scored.columns[0]),
        "target": target,
        "task": task,
        "classes": [str(c) for c in classes] if classes is not None else None,
    }
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), META_KEY: json.dumps(meta)}
    )
    pq.write_table(table, path)
    return path


def read_scored(path: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The scored rows and their metadata."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    return table.to_pandas(), meta


@dataclass
class LabelsResult:
    """What :func:`record_labels` joined and recorded."""

    batch: str
    run_id: str
    rows: int
    labelled: int
    realised: dict[str, float]
    dataset: str
    history: pd.DataFrame  # estimate vs realised of this batch (:func:`~.ledger.estimate_history`)


def _latest_run(ws: Workspace, batch: str) -> str:
    run_id = None
    for rec in read_log(ws.monitoring_log)[0]:
        if any(isinstance(r, dict) and r.get("batch") == batch for r in rec.get("rows") or []):
            run_id = rec.get("run_id")
    if run_id is None:
        raise NotFound(
            f"no monitored batch {batch!r} in {ws.relative(ws.monitoring_log)}",
            hint="monitor it first: nbtrail run --stage monitor -p monitor.batch=...",
        )
    return str(run_id)


def _scored_path(ws: Workspace, run_id: str, batch: str) -> Path:
    art: Any = records.load(ws, run_id)["outputs"].get(scored_name(batch))
    state = ws.run_dir(run_id) / STATE_FILE
    if art is None and state.is_file():  # the run is still going (the demo joins its own)
        art = json.loads(state.read_text()).get("outputs", {}).get(scored_name(batch))
    if art is None or not art.get("path"):
        raise NotFound(
            f"monitor run {run_id} kept no scored rows for batch {batch!r}",
            hint="re-monitor the batch with this version of nbtrail",
        )
    path = ws.root / str(art["path"])
    if not path.is_file() or hash_file(path) != art["digest"]:
        raise IntegrityError(
            f"the scored rows of batch {batch!r} ({art['path']}) no longer match their record"
        )
    return path


def _join(
    scored: pd.DataFrame, labels: pd.DataFrame, id_column: str, target: str, batch: str
) -> pd.DataFrame:
    for col, what in ((id_column, "id column"), (target, "target")):
        if col not in labels.columns:
            raise DataError(f"the labels have no column {col!r} (the {what} of batch {batch!r})")
    labels = labels[[id_column, target]].dropna(subset=[target])
    if labels.empty:
        raise DataError(f"the labels for batch {batch!r} hold no label")
    dup = int(labels[id_column].duplicated().sum())
    if dup:
        raise DataError(f"{dup} label row(s) repeat an id already labelled in the file")
    key = scored[id_column].astype(str)
    keyed = labels.assign(_key=labels[id_column].astype(str))
    unmatched = int((~keyed["_key"].isin(set(key))).sum())
    if unmatched:
        raise DataError(
            f"{unmatched} of {len(labels)} label id(s) match no row of batch {batch!r} "
            f"(joined on {id_column!r}, {len(scored)} rows)",
            hint="check the batch name and the id column",
        )
    return scored.assign(_key=key).merge(keyed[["_key", target]], on="_key", how="inner")


def realised(joined: pd.DataFrame, meta: dict[str, Any]) -> dict[str, float]:
    """The realised metrics of joined rows (scored rows with their labels)."""
    target, task = meta["target"], meta["task"]
    if task == REGRESSION:
        y = joined[target].to_numpy(dtype=float)
        p = joined[PREDICTED].to_numpy(dtype=float)
        return {m: metric_value(m, y, p) for m in ("mae", "rmse")}
    classes = meta["classes"]
    y = class_index(classes, joined[target].to_numpy())
    if (y < 0).any():
        unknown = sorted({str(v) for v, i in zip(joined[target], y, strict=True) if i < 0})
        raise DataError(
            f"labels {', '.join(unknown[:5])} are none of the model's classes {classes}"
        )
    pred = class_index(classes, joined[PREDICTED].to_numpy())
    proba = [c for c in joined.columns if str(c).startswith("_proba_")]
    if not proba:
        return {"accuracy": float(np.mean(y == pred))}
    return realised_metrics(y, pred, joined[proba].to_numpy(dtype=float))


def _dataset_name(batch: str) -> str:
    return "labels_" + (re.sub(r"[^A-Za-z0-9_.-]", "_", batch).strip(".") or "batch")[:60]


def record_labels(ws: Workspace, batch: str, labels_file: str | Path) -> LabelsResult:
    """Join ``labels_file`` to the latest monitored ``batch`` by id and record the realised
    performance beside the estimate (see the module docstring)."""
    from nbtrail.data.datasets import Datasets

    run_id = _latest_run(ws, batch)
    scored, meta = read_scored(_scored_path(ws, run_id, batch))
    path = Path(labels_file)
    if not path.is_file():
        raise DataError(f"no such labels file: {labels_file}", path=str(labels_file))
    joined = _join(scored, read_batch_file(path), meta["id_column"], meta["target"], batch)
    values = realised(joined, meta)
    dv = Datasets(ws).add_file(path, _dataset_name(batch))
    rec = {
        "run_id": run_id,
        "batch": batch,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "file": str(path),
        "dataset": dv.ref,
        "rows": len(scored),
        "labelled": len(joined),
        "realised": values,
    }
    with log_writer(ws.monitoring_log) as append:
        append({"labels": rec})
    history = estimate_history(ws, batch)
    history = history[history["run_id"] == run_id].reset_index(drop=True)
    return LabelsResult(batch, run_id, len(scored), len(joined), values, dv.ref, history)
