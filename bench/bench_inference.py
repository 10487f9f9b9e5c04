"""ONNX Runtime versus scikit-learn ``predict_proba`` on the same rows.

Latency at batch size 1 (median and p95 of single-row calls) and throughput at batch size
1,000 (rows per second), for the train stage's default model (HistGradientBoosting) and a
scaled logistic regression, both on breast_cancer. The ONNX graphs are the ones
``nbtrail.export.to_onnx`` builds for a bundle (per-column inputs when the model starts with
a ColumnTransformer). Run: ``.venv/bin/python bench/bench_inference.py``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings

import numpy as np
import onnxruntime as ort
import pandas as pd
import sklearn
from _summary import Summary, verdict
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbtrail.practices import export
from nbtrail.practices.training import build_pipeline

warnings.simplefilter("ignore")


def timed(fn, repeats: int) -> np.ndarray:
    out = np.empty(repeats)
    for i in range(repeats):
        t = time.perf_counter()
        fn()
        out[i] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--summary", help="write the rows for make_bench here")
    summary = Summary(ap.parse_args().summary)
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" ", "_"))
    rng = np.random.default_rng(0)
    big = X.iloc[rng.integers(0, len(X), 1000)].reset_index(drop=True)
    one = X.iloc[[0]]
    models = {
        "default pipeline (ColumnTransformer + HGB, 100 iters)": build_pipeline(
            X,
            model="hist_gradient_boosting",
            task="classification",
            seed=42,
            hyper={"learning_rate": 0.1, "max_depth": 3, "n_estimators": 100},
        ),
        "HistGradientBoosting alone (100 iters)": HistGradientBoostingClassifier(
            max_iter=100, max_depth=3, random_state=42
        ),
        "StandardScaler + LogisticRegression": make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        ),
    }
    print(
        f"machine: {os.cpu_count()} cpus ({platform.machine()}), python "
        f"{platform.python_version()}, scikit-learn {sklearn.__version__}, onnxruntime "
        f"{ort.__version__}; shared with other jobs"
    )
    figures = {}
    for name, model in models.items():
        model.fit(X, y)
        figures[name] = bench_model(name, model, X, one, big)
    sk, onx = (figures[next(iter(models))][e] for e in ("sklearn", "onnxruntime"))
    summary.add(
        "ONNX Runtime vs scikit-learn, default pipeline",
        "(none; #7)",
        f"batch 1: {sk[0]:.3f} ms -> {onx[0]:.3f} ms; batch 1,000: {sk[1]:,.0f} -> {onx[1]:,.0f}"
        f" rows/s; load {summary.load_start:.1f}-{os.getloadavg()[0]:.1f}",
        verdict(None),
    )
    summary.write()


def bench_model(
    name: str, model, X: pd.DataFrame, one: pd.DataFrame, big: pd.DataFrame
) -> dict[str, tuple[float, float]]:
    """Per engine: (median latency at batch 1 in ms, rows/s at batch 1,000)."""
    onx, spec = export.to_onnx(model, X)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(onx, opts, providers=["CPUExecutionProvider"])
    feed1, feed_big = export.onnx_feed(one, spec), export.onnx_feed(big, spec)
    runs = {
        "sklearn": (lambda: model.predict_proba(one), lambda: model.predict_proba(big)),
        "onnxruntime": (
            lambda: sess.run(["probabilities"], feed1),
            lambda: sess.run(["probabilities"], feed_big),
        ),
        "onnxruntime+feed": (  # including building the input from a DataFrame
            lambda: sess.run(["probabilities"], export.onnx_feed(one, spec)),
            lambda: sess.run(["probabilities"], export.onnx_feed(big, spec)),
        ),
    }
    print(f"\n{name} [ONNX {spec['layout']}/{spec['input_dtype']}, 1 thread]")
    print(f"  {'engine':<18} {'b=1 median':>11} {'b=1 p95':>9} {'b=1000 rows/s':>14}")
    out = {}
    for engine, (f1, fbig) in runs.items():
        timed(f1, 20)
        lat = timed(f1, 500) * 1e3
        thr = 1000 / np.median(timed(fbig, 30))
        print(
            f"  {engine:<18} {np.median(lat):>8.3f} ms {np.percentile(lat, 95):>6.3f} ms"
            f" {thr:>14,.0f}"
        )
        out[engine] = (float(np.median(lat)), float(thr))
    return out


if __name__ == "__main__":
    pd.set_option("display.width", 120)
    main()
