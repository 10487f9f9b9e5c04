"""nbtrail's label-free estimation beside NannyML's CBPE on the same simulated batches.

A binary logistic model; a reference of 2,000 rows; 100 batches of 500 rows whose covariate
shift varies (x1's spread 0.5-3 reference SDs: the narrow ones crowd the decision boundary and
degrade the model; x2, a column the model barely uses, shifted by -1..1). For each engine and
batch: the estimated accuracy and ROC AUC against the realised ones (the batch's real labels),
and the time per batch (estimation only; fitting on the reference timed apart).

Run each engine in its own environment (NannyML never goes into the project's lock):

    .venv/bin/python bench/bench_cbpe.py --engine nbtrail
    NML_DISABLE_USAGE_LOGGING=1 /tmp/nannyvenv/bin/python bench/bench_cbpe.py --engine nannyml

(``--rows 5000`` for larger batches; NannyML sends usage telemetry unless the variable is set.)

Both draw the same batches (numpy's default_rng, seed 10) and fit the same scikit-learn model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import pandas as pd
from _summary import Summary
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

FEATURES = ["x1", "x2"]
BATCHES, ROWS = 100, 500


def draw(rng: np.random.Generator, n: int, *, x1_sd: float = 2.0, x2_shift: float = 0.0):
    x1 = rng.normal(0.0, x1_sd, n)
    x2 = rng.normal(x2_shift, 1.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2.5 * x1))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "target": y})


def world(rows: int = ROWS):
    rng = np.random.default_rng(10)
    train, ref = draw(rng, 3000), draw(rng, 2000)
    model = LogisticRegression().fit(train[FEATURES], train["target"])
    batches = [
        draw(rng, rows, x1_sd=[0.5, 1.0, 2.0, 3.0][i % 4], x2_shift=i % 3 - 1.0)
        for i in range(BATCHES)
    ]
    return model, ref, batches


def scored(model, frame: pd.DataFrame) -> pd.DataFrame:
    p = model.predict_proba(frame[FEATURES])[:, 1]
    return frame.assign(y_pred_proba=p, y_pred=(p >= 0.5).astype(int))


def nbtrail_engine(model, ref, batches):
    from nbtrail.practices import monitoring as m

    t0 = time.perf_counter()
    est = m.fit_estimator(model, ref, FEATURES, "target")
    fit = time.perf_counter() - t0
    out = []
    for b in batches:
        t = time.perf_counter()
        e = est.estimate(b.drop(columns=["target"]))
        dt = time.perf_counter() - t
        acc, auc = e.metrics["accuracy"], e.metrics["roc_auc"]
        out.append((acc["value"], auc["value"], dt, acc["low"], acc["high"]))
    return fit, out


def nannyml_engine(model, ref, batches):
    import nannyml as nml

    t0 = time.perf_counter()
    cbpe = nml.CBPE(
        y_pred_proba="y_pred_proba",
        y_pred="y_pred",
        y_true="target",
        metrics=["accuracy", "roc_auc"],
        problem_type="classification_binary",
        chunk_number=1,
    )
    cbpe.fit(scored(model, ref))
    fit = time.perf_counter() - t0
    out = []
    for b in batches:
        frame = scored(model, b.drop(columns=["target"]))
        t = time.perf_counter()
        res = cbpe.estimate(frame).filter(period="analysis").to_df()
        dt = time.perf_counter() - t
        acc = float(res[("accuracy", "value")].iloc[0])
        auc = float(res[("roc_auc", "value")].iloc[0])
        lo = float(res[("accuracy", "lower_confidence_boundary")].iloc[0])
        hi = float(res[("accuracy", "upper_confidence_boundary")].iloc[0])
        out.append((acc, auc, dt, lo, hi))
    return fit, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=("nbtrail", "nannyml"), required=True)
    ap.add_argument("--rows", type=int, default=ROWS, help="rows per batch")
    ap.add_argument("--summary", help="write the rows for make_bench here")
    args = ap.parse_args()
    summary = Summary(args.summary)
    model, ref, batches = world(args.rows)
    engine = nbtrail_engine if args.engine == "nbtrail" else nannyml_engine
    fit, out = engine(model, ref, batches)
    real_acc, real_auc = [], []
    for b in batches:
        s = scored(model, b)
        real_acc.append(float(np.mean(s["y_pred"] == s["target"])))
        real_auc.append(float(roc_auc_score(s["target"], s["y_pred_proba"])))
    est = np.array(out)
    acc_err = np.abs(est[:, 0] - np.array(real_acc))
    auc_err = np.abs(est[:, 1] - np.array(real_auc))
    covered = np.mean((est[:, 3] <= real_acc) & (np.array(real_acc) <= est[:, 4]))
    print(
        json.dumps(
            {
                "engine": args.engine,
                "batches": BATCHES,
                "rows": args.rows,
                "accuracy_mae": round(float(acc_err.mean()), 4),
                "roc_auc_mae": round(float(auc_err.mean()), 4),
                "accuracy_interval_coverage": round(float(covered), 3),
                "fit_s": round(fit, 3),
                "per_batch_ms_median": round(float(np.median(est[:, 2])) * 1000, 2),
                "python": platform.python_version(),
            }
        )
    )
    summary.add(
        f"label-free estimation, {args.engine}, {BATCHES} batches of {args.rows:,} rows",
        "error and time no worse than NannyML's CBPE (#15; compare with its row)",
        f"mean abs. error: accuracy {acc_err.mean():.4f}, ROC AUC {auc_err.mean():.4f}; median"
        f" {np.median(est[:, 2]) * 1000:.1f} ms per batch; load {summary.load_start:.1f}-"
        f"{os.getloadavg()[0]:.1f}",
        "see the peer's row",
    )
    summary.write()


if __name__ == "__main__":
    main()
