"""Monitoring for any tabular task: multiclass (wine, 3 classes) and regression (diabetes)
demo batches get their expected verdicts with the train stage's models; the per-task
degradation tests keep their false-alarm rate by simulation; columns of every kind
(numeric, discrete, categorical, boolean, datetime, missing values) are monitored; the
stage reads the evaluate stage's task and intervals.

Tolerances of simulated rates are three binomial standard errors.
"""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import ParameterError
from nbtrail.notebook.run import Run
from nbtrail.practices import monitoring as m
from nbtrail.practices.training import build_pipeline
from nbtrail.runs import records
from nbtrail.stages import monitor as stage

REPO_NOTEBOOK = os.path.join(os.path.dirname(__file__), "..", "notebooks", "05_monitor.ipynb")


def _split(frame: pd.DataFrame, seed: int, train: float = 0.6):
    split = np.random.default_rng(seed).random(len(frame)) < train
    return frame[split].reset_index(drop=True), frame[~split].reset_index(drop=True)


def _fit(train: pd.DataFrame, task: str, model: str):
    feats = [c for c in train.columns if c != "target"]
    pipe = build_pipeline(train[feats], model=model, task=task, seed=0, hyper={})
    return pipe.fit(train[feats], train["target"]), feats


def _demo(ref: pd.DataFrame, model, feats, seed: int, task: str | None = None):
    plan = stage.demo_plan(ref, features=feats, seed=seed, task=task)
    batches = stage.demo_batches(ref, plan, features=feats)
    return plan, batches, m.check_batches(ref, batches, model=model, features=feats)


def _expected(verdicts, plan) -> None:
    clean, cov, concept = verdicts
    m.check_expected(verdicts, stage.DEMO_EXPECTED)
    assert clean.status != m.FAIL, clean.summary
    assert cov.status == m.FAIL and set(plan.drift_columns) <= set(cov.drifted_columns)
    assert concept.status == m.FAIL and concept.kind == "concept drift", concept.summary
    assert concept.drifted_columns == []


# -- multiclass: wine, three classes --------------------------------------------------------


@pytest.fixture(scope="module")
def wine():
    from sklearn.datasets import load_wine

    return load_wine(as_frame=True).frame


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_wine_demo_batches_get_their_expected_verdicts(wine, seed):
    train, ref = _split(wine, seed)
    model, feats = _fit(train, "classification", "hist_gradient_boosting")
    plan, batches, verdicts = _demo(ref, model, feats, seed)
    assert plan.task == m.MULTICLASS and "permutes labels" in plan.describe()
    assert plan.drift_columns == ("alcohol", "malic_acid", "ash")
    _expected(verdicts, plan)
    clean, _, concept = verdicts
    assert clean.task == m.MULTICLASS and set(clean.metrics) == {"accuracy", "balanced_accuracy"}
    assert [c.metric for c in clean.checks if c.name == "performance"] == [
        "accuracy",
        "balanced_accuracy",
    ]
    assert concept.metric == "accuracy" and concept.metric_value < concept.baseline - 0.2
    # prediction drift: the predicted class (chi-square) and the largest probability (KS)
    kinds = clean.drift.set_index("column")
    assert kinds.loc[m.PREDICTION, "test"] == "chi2"
    assert kinds.loc[m.CONFIDENCE, "test"] == "ks"
    assert m.CONFIDENCE not in clean.top_columns(20) and m.PREDICTION not in clean.top_columns(20)
    assert batches["concept_drift"]["target"].isin([0, 1, 2]).all()


def test_multiclass_concept_drift_permutes_labels_among_the_classes():
    """Three far-apart groups of x, one class each: inside the segment (x above its median)
    every label is the next class of the one its x belongs to, outside it is unchanged."""
    x = np.concatenate([np.arange(20.0), 100 + np.arange(20.0), 200 + np.arange(20.0)])
    ref = pd.DataFrame({"x": x, "y": np.repeat(["a", "b", "c"], 20)})
    plan = stage.demo_plan(ref, target="y", seed=0)
    assert plan.task == m.MULTICLASS and plan.segment_median == 109.5
    concept = stage.demo_batches(ref, plan, target="y")["concept_drift"]
    pd.testing.assert_frame_equal(
        concept, stage.demo_batches(ref, plan, target="y")["concept_drift"]
    )
    original = pd.cut(concept["x"], [-np.inf, 50, 150, np.inf], labels=["a", "b", "c"])
    original = original.astype(str)
    inside = (concept["x"] > plan.segment_median).to_numpy()
    following = {"a": "b", "b": "c", "c": "a"}
    assert inside.any() and (~inside).any()
    assert (concept.loc[inside, "y"] == original[inside].map(following)).all()
    assert (concept.loc[~inside, "y"] == original[~inside]).all()


# -- regression: diabetes -------------------------------------------------------------------


@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True).frame


@pytest.mark.parametrize(
    "seed,model", [(0, "hist_gradient_boosting"), (1, "hist_gradient_boosting"), (2, "ridge")]
)
def test_regression_diabetes_demo_batches_get_their_expected_verdicts(diabetes, seed, model):
    train, ref = _split(diabetes, seed)
    fitted, feats = _fit(train, "regression", model)
    plan, batches, verdicts = _demo(ref, fitted, feats, seed)
    assert plan.task == m.REGRESSION
    assert stage.TARGET_SHIFT_SD == 2.0
    assert plan.target_shift == pytest.approx(2.0 * float(ref["target"].std()))
    assert "shifts the target by" in plan.describe()
    # 'sex' takes two values: discrete, so it is neither preferred for the shift nor jittered
    assert "sex" not in plan.drift_columns and plan.drift_columns == ("age", "bmi", "bp")
    assert set(batches["clean"]["sex"].unique()) <= set(ref["sex"].unique())
    _expected(verdicts, plan)
    clean, cov, concept = verdicts
    assert clean.task == m.REGRESSION and set(clean.metrics) == {"mae", "rmse"}
    assert clean.metric == "mae" and clean.baseline == pytest.approx(
        m.metric_value("mae", ref["target"].to_numpy(), fitted.predict(ref[feats]))
    )
    assert concept.metrics["mae"] > concept.baselines["mae"] * (1 + 0.05)
    assert "mae" in concept.summary and " > " in concept.summary
    assert clean.drift.set_index("column").loc[m.PREDICTION, "test"] == "ks"
    # inputs of the concept batch are the clean draw's kind; the segment's target moved by k SD
    seg = batches["concept_drift"][plan.segment_column] > plan.segment_median
    assert seg.mean() == pytest.approx(0.5, abs=0.15)


def test_regression_concept_drift_shifts_the_segment_target_only(diabetes):
    _, ref = _split(diabetes, 0)
    plan = stage.demo_plan(ref, seed=3, task=m.REGRESSION, target_shift_sd=3.0)
    assert plan.target_shift == pytest.approx(3.0 * float(ref["target"].std()))
    unshifted = stage.demo_plan(ref, seed=3, task=m.REGRESSION, target_shift_sd=0.0)
    a = stage.demo_batches(ref, plan)
    b = stage.demo_batches(ref, unshifted)
    pd.testing.assert_frame_equal(a["clean"], b["clean"])
    seg = (a["concept_drift"][plan.segment_column] > plan.segment_median).to_numpy()
    diff = a["concept_drift"]["target"].to_numpy() - b["concept_drift"]["target"].to_numpy()
    assert seg.any() and (~seg).any()
    assert np.allclose(diff[seg], plan.target_shift) and np.allclose(diff[~seg], 0)
    assert plan.to_dict()["task"] == "regression"


def test_regression_covariate_drift_shows_in_the_prediction(diabetes):
    train, ref = _split(diabetes, 0)
    model, feats = _fit(train, "regression", "ridge")
    shifted = ref.assign(bmi=ref["bmi"] + 2 * ref["bmi"].std())
    v = m.check_batch(ref, shifted.drop(columns=["target"]), model=model, features=feats)
    assert v.task == m.REGRESSION and v.alpha == 0.05  # unlabelled: no performance check
    pred = [c for c in v.checks if c.name == "prediction_drift"]
    assert pred and pred[0].status == m.FAIL and "prediction KS D=" in pred[0].detail


# -- the tests behind the performance verdict -----------------------------------------------


def _rate(reps: int, trial) -> float:
    return sum(bool(trial()) for _ in range(reps)) / reps


def _tolerance(alpha: float, reps: int) -> float:
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)


@pytest.mark.parametrize("metric", ["mae", "rmse"])
def test_error_checks_alarm_at_most_alpha_at_the_bound_and_catch_30_percent(metric):
    """Errors at exactly baseline x (1 + max_drop) fail <= alpha; 30% larger, >= 95%."""
    rng = np.random.default_rng(8)
    n, reps, alpha, baseline, drop = 200, 1000, 0.05, 10.0, 0.05
    unit = math.sqrt(2 / math.pi) if metric == "mae" else 1.0  # E|Z|, sqrt(E Z^2)

    def fails(scale: float) -> bool:
        pred = rng.normal(size=n) * (baseline * scale / unit)
        check = m.metric_check(metric, np.zeros(n), pred, baseline, drop, alpha)
        assert check.metric == metric and check.bound == pytest.approx(baseline * (1 + drop))
        return check.status == m.FAIL

    assert _rate(reps, lambda: fails(1 + drop)) <= _tolerance(alpha, reps)
    assert _rate(reps, lambda: fails(1.3)) >= 0.95


def test_error_check_counts_the_baselines_uncertainty():
    """A baseline measured on 100 holdout rows: with its standard error the false-alarm rate
    at the bound stays <= alpha; taken as exact it would not."""
    rng = np.random.default_rng(9)
    n, holdout, reps, alpha = 200, 100, 1000, 0.05

    def fails(use_se: bool) -> bool:
        h = np.abs(rng.normal(size=holdout))
        se = float(h.std(ddof=1) / math.sqrt(holdout)) if use_se else 0.0
        pred = rng.normal(size=n) * 1.05  # true MAE at the bound of the *true* baseline
        return (
            m.metric_check("mae", np.zeros(n), pred, h.mean(), 0.05, alpha, baseline_se=se).status
            == m.FAIL
        )

    assert _rate(reps, lambda: fails(True)) <= _tolerance(alpha, reps)
    assert _rate(reps, lambda: fails(False)) > _tolerance(alpha, reps)


@pytest.mark.parametrize("p,holdout", [(0.9, 100), (0.8, 300)])
def test_accuracy_with_an_estimated_baseline_keeps_its_false_alarm_rate(p, holdout):
    rng = np.random.default_rng(10)
    n, reps, alpha = 200, 1000, 0.05
    y = np.zeros(n, dtype=int)

    def fails(drop_true: float) -> bool:
        b = float(np.mean(rng.random(holdout) < p))
        se = math.sqrt(b * (1 - b) / holdout)
        pred = (rng.random(n) >= p - drop_true).astype(int)
        check = m.performance_check(y, pred, b, 0.05, alpha, baseline_se=se)
        assert "score" in check.detail and "se " in check.detail
        return check.status == m.FAIL

    assert _rate(reps, lambda: fails(0.05)) <= _tolerance(alpha, reps)
    assert _rate(reps, lambda: fails(0.25)) >= 0.95


@pytest.mark.parametrize("recalls", [(0.85, 0.85, 0.85), (0.95, 0.75, 0.85)])
def test_balanced_accuracy_check_false_alarms_and_power(recalls):
    rng = np.random.default_rng(11)
    y = np.repeat([0, 1, 2], [100, 60, 40])
    reps, alpha = 1000, 0.05
    bound = float(np.mean(recalls))

    def fails(shift: float) -> bool:
        pred = y.copy()
        for k, r in enumerate(recalls):
            idx = np.nonzero(y == k)[0]
            wrong = idx[rng.random(len(idx)) >= r - shift]
            pred[wrong] = (k + 1) % 3
        return (
            m.metric_check("balanced_accuracy", y, pred, bound + 0.05, 0.05, alpha).status == m.FAIL
        )

    assert _rate(reps, lambda: fails(0.0)) <= _tolerance(alpha, reps)
    assert _rate(reps, lambda: fails(0.15)) >= 0.95


def test_performance_checks_split_alpha_over_the_metrics():
    y = np.repeat([0, 1, 2], 40)
    baselines = {"accuracy": m.Baseline(0.9), "balanced_accuracy": m.Baseline(0.9)}
    checks = m.performance_checks(y, y, baselines, 0.05, 0.05)
    assert [c.metric for c in checks] == ["accuracy", "balanced_accuracy"]
    assert all(c.status == m.PASS for c in checks)
    # a p-value between alpha/2 and alpha fails alone but not inside the family of two
    rng = np.random.default_rng(0)
    for _ in range(200):
        pred = np.where(rng.random(len(y)) < 0.2, (y + 1) % 3, y)
        alone = m.metric_check("balanced_accuracy", y, pred, 0.9, 0.05, 0.05)
        both = m.performance_checks(y, pred, baselines, 0.05, 0.05)[1]
        p = float(alone.detail.split("p=")[1].split(",")[0])
        if 0.025 < p < 0.05:
            assert alone.status == m.FAIL and both.status != m.FAIL
            break
    else:
        pytest.fail("no p-value between alpha/2 and alpha drawn")


# -- tasks and baselines --------------------------------------------------------------------


def test_task_names_are_told_apart_by_the_model(wine, diabetes):
    multi, _ = _fit(wine, "classification", "logistic_regression")
    binary, _ = _fit(wine[wine["target"] != 2], "classification", "logistic_regression")
    reg, _ = _fit(diabetes, "regression", "ridge")
    assert m.monitor_task(multi, "classification") == m.MULTICLASS
    assert m.monitor_task(binary, "classification") == m.BINARY
    assert m.monitor_task(binary) == m.BINARY and m.monitor_task(reg) == m.REGRESSION
    assert m.monitor_task(reg, "regression") == m.REGRESSION
    # a classifier is one whatever the evaluation's name says (the model decides)
    assert m.monitor_task(multi, "regression") == m.MULTICLASS
    assert m.monitor_task(None, "classification") == m.BINARY
    assert m.monitor_task(None) is None and m.monitor_task(None, "multiclass") == m.MULTICLASS
    with pytest.raises(ParameterError, match="task must be one of"):
        m.monitor_task(reg, "ranking")
    assert m.target_task(wine["target"]) == m.MULTICLASS
    assert m.target_task(diabetes["target"]) == m.REGRESSION
    assert m.target_task(pd.Series(["yes", "no", None])) == m.BINARY


def test_baselines_from_the_evaluation_output_as_it_is_written():
    """The evaluate stage's ``evaluation`` output: ``task`` and percentile intervals."""
    evaluation = {
        "task": "regression",
        "intervals": {
            "mae": {"metric": "mae", "value": 50.0, "low": 43.6, "high": 57.1, "level": 0.95},
            "r2": {"metric": "r2", "value": 0.4, "low": 0.1, "high": 0.5, "level": 0.95},
        },
    }
    got = m.evaluation_baselines(m.REGRESSION, evaluation, {"rmse": 59.0, "mae": 1.0})
    assert set(got) == {"mae", "rmse"}
    assert got["mae"].value == 50.0
    assert got["mae"].se == pytest.approx((57.1 - 43.6) / (2 * 1.959964), rel=1e-5)
    assert got["rmse"] == m.Baseline(59.0)  # from the record's metrics: no interval, exact
    binary = m.evaluation_baselines(
        m.BINARY, {"task": "classification", "intervals": {}}, {"accuracy": 0.96}
    )
    assert binary == {"accuracy": m.Baseline(0.96)}
    assert m.evaluation_baselines(m.MULTICLASS, None, {"rmse": 0.3}) == {}
    calls = []

    def measure(metric):
        calls.append(metric)
        return 0.8

    resolved = m.resolve_baselines(m.MULTICLASS, 0.9, measure)
    assert resolved == {"accuracy": m.Baseline(0.9), "balanced_accuracy": m.Baseline(0.8)}
    assert calls == ["balanced_accuracy"]


# -- columns of every kind ------------------------------------------------------------------


def _mixed(rng: np.random.Generator, n: int, days: int = 0) -> pd.DataFrame:
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x,
            "count": pd.array(rng.integers(0, 4, size=n), dtype="Int64"),
            "colour": pd.Categorical(rng.choice(["red", "green", "blue"], size=n)),
            "text": rng.choice(["a", "b"], size=n).astype(object),
            "flag": rng.random(n) < 0.3,
            "when": pd.Timestamp("2026-01-01")
            + pd.to_timedelta(rng.integers(0, 90, size=n) + days, unit="D"),
            "gaps": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "target": (x + rng.normal(scale=0.5, size=n) > 0).astype(int),
        }
    )
    frame.loc[frame.index[::7], "count"] = pd.NA
    frame.loc[frame.index[::5], "text"] = None
    return frame


def test_columns_of_every_kind_are_monitored_without_crashing():
    rng = np.random.default_rng(12)
    ref = _mixed(rng, 600)
    kinds = m.column_kinds(ref, list(ref.columns))
    assert kinds == {
        "x": "num",
        "count": "num",
        "colour": "cat",
        "text": "cat",
        "flag": "cat",
        "when": "time",
        "gaps": "num",
        "target": "num",
    }
    feats = [c for c in ref.columns if c not in ("target", "when")]
    model, _ = _fit(
        _mixed(rng, 600).drop(columns=["when"]), "classification", "logistic_regression"
    )
    plan = stage.demo_plan(ref, features=feats, seed=0)
    assert plan.drift_columns == ("x", "gaps", "count")  # continuous first; 'count' is discrete
    batches = stage.demo_batches(ref, plan, features=feats)
    assert set(batches["clean"]["count"].dropna().unique()) <= {0, 1, 2, 3}  # not jittered
    assert batches["clean"]["gaps"].isna().any()  # missing values stay missing
    verdicts = m.check_batches(ref, batches, features=feats, model=model)
    clean, cov, concept = verdicts
    assert clean.status != m.FAIL and cov.status == m.FAIL, [v.summary for v in verdicts]
    assert {"x", "gaps"} <= set(cov.drifted_columns)
    assert concept.kind == "concept drift", concept.summary
    assert set(clean.drift["column"]) == {*feats, m.PREDICTION}
    report = m.drift_report(ref, batches["covariate_drift"], cov, features=feats, model=model)
    assert report.dict()["metrics"]


def test_datetime_columns_drift_with_the_calendar_and_parse_from_csv(tmp_path):
    rng = np.random.default_rng(13)
    ref = _mixed(rng, 600)
    feats = [c for c in ref.columns if c != "target"]
    same = m.check_batch(ref, _mixed(rng, 300), features=feats)
    assert same.status != m.FAIL, same.summary
    later = _mixed(rng, 300, days=60)
    path = tmp_path / "later.csv"
    later.to_csv(path, index=False)
    from_csv = m.read_batch_file(path)
    assert not pd.api.types.is_datetime64_any_dtype(from_csv["when"])  # a CSV stores text
    v = m.check_batch(ref, from_csv, features=feats)
    assert v.quality["dtype_changed"] == {}, v.summary
    assert v.drifted_columns == ["when"] and v.drift.set_index("column").loc["when", "test"] == "ks"
    snap = m.drift_report(ref, from_csv, v, features=feats).dict()
    evid = {
        x["config"]["column"]: x["value"]
        for x in snap["metrics"]
        if x["config"]["type"].endswith("ValueDrift")
    }
    assert evid["when"] == pytest.approx(v.drift.set_index("column").loc["when", "p_value"])
    bad = from_csv.assign(when="not a date")
    assert "when" in m.check_batch(ref, bad, features=feats).quality["dtype_changed"]


# -- the stage's functions, with real runs in a temporary workspace -------------------------


def _run(ws, stage_name: str, upstream: dict[str, str]) -> Run:
    notebook = ws.root / "notebooks" / "05_monitor.ipynb"
    if not notebook.exists():
        notebook.parent.mkdir(exist_ok=True)
        shutil.copyfile(REPO_NOTEBOOK, notebook)
    run_id = records.new_run_id(stage_name)
    rec = records.new_record(
        ws,
        run_id=run_id,
        stage=stage_name,
        origin="interactive",
        params={},
        notebook=notebook,
        upstream=upstream,
        pid=os.getpid(),
    )
    records.write(ws, rec)
    return Run(
        ws=ws,
        stage=stage_name,
        run_id=run_id,
        params={},
        upstream=upstream,
        managed=False,
        record=rec,
    )


def test_stage_reads_the_evaluate_stages_task_and_intervals_and_records_per_task(ws, diabetes):
    train, ref = _split(diabetes, 4)
    model, feats = _fit(train, "regression", "hist_gradient_boosting")
    evaluate = _run(ws, "evaluate", {})
    evaluate.save_json(
        "evaluation",
        {
            "task": "regression",
            "intervals": {
                "mae": {"metric": "mae", "value": 45.0, "low": 40.0, "high": 50.0, "level": 0.95},
                "rmse": {"metric": "rmse", "value": 56.0, "low": 50.0, "high": 62.0, "level": 0.95},
            },
        },
    )
    evaluate.log_metrics({"mae": 45.0, "rmse": 56.0, "r2": 0.4})
    evaluate.finish()
    run = _run(ws, "monitor", {"evaluate": evaluate.run_id})
    task, baselines = stage.monitor_baselines(run, model, batch="prod.csv")
    assert task == m.REGRESSION and baselines is not None
    assert baselines["mae"].value == 45.0 and baselines["mae"].se > 0
    assert "mae 45 (se 2.6)" in stage.describe_baselines(task, baselines)
    assert stage.monitor_baselines(run, model, batch=stage.DEMO) == (m.REGRESSION, None)
    assert "measured on the reference" in stage.describe_baselines(task, None)

    batches = stage.load_batches(
        run,
        stage.DEMO,
        ref,
        target="target",
        features=feats,
        rows=200,
        shift_sd=1.0,
        seed=4,
        task=task,
    )
    verdicts = stage.record_verdicts(
        run, ref, batches, m.MonitorConfig(), model=model, features=feats, task=task
    )
    m.check_expected(verdicts, stage.DEMO_EXPECTED)
    state = run.state
    assert state["extra"]["demo_batches"]["task"] == "regression"
    concept = state["verdicts"]["monitor_concept_drift"]
    assert concept["metric"] == "mae" and concept["mae"] == verdicts[2].metrics["mae"]
    assert state["metrics"]["max_batch_mae"] == max(v.metrics["mae"] for v in verdicts)
    assert state["metrics"]["max_batch_rmse"] >= state["metrics"]["max_batch_mae"]
    assert state["metrics"]["min_batch_accuracy"] is None
    history = stage.update_history(run, verdicts, points=10)
    assert list(history["metric"]) == ["mae"] * 3
    assert "mae " in m.format_history(history)
    fig = m.plot_history(history)
    assert fig.axes[1].get_ylabel() == "mae"


def test_binary_stage_metrics_keep_their_names(wine):
    df = wine[wine["target"] != 2].reset_index(drop=True)
    train, ref = _split(df, 0)
    model, feats = _fit(train, "classification", "logistic_regression")
    _, _, verdicts = _demo(ref, model, feats, 0)
    assert stage.worst_batch_metrics(verdicts) == {
        "min_batch_accuracy": min(v.metrics["accuracy"] for v in verdicts)
    }
    assert all(v.metric == "accuracy" and v.task == m.BINARY for v in verdicts)
