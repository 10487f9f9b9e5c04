"""Every tabular task through the evaluation: the one task rule, the positive class of a
binary target with any labels, multiclass and regression metrics against scikit-learn,
slices, behavioural tests, gates and Evidently's presets per task."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices import evaluation as ev
from nbtrail.practices import tasks, training
from nbtrail.practices.baseline import build_baseline
from nbtrail.practices.training import build_pipeline

NAMES = np.array(["barbera", "barolo", "grignolino"])  # sorted: the model's classes_ order
CULTIVAR = np.array(["barolo", "grignolino", "barbera"])  # scikit-learn's classes 0, 1, 2


@pytest.fixture(scope="module")
def wine():
    """Wine with text class names, a fitted logistic model and its scored holdout."""
    data = load_wine(as_frame=True)
    X = data.data.rename(columns=lambda c: c.replace("/", "_"))
    y = CULTIVAR[data.target.to_numpy()]
    order = np.random.default_rng(0).permutation(len(X))
    train, hold = order[:100], order[100:]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
    model.fit(X.iloc[train], y[train])
    Xh = X.iloc[hold].reset_index(drop=True)
    return {"model": model, "X": Xh, "y": y[hold], "proba": model.predict_proba(Xh)}


# --------------------------------------------------------------------------- the task rule


@pytest.mark.parametrize(
    ("y", "task"),
    [
        (["yes", "no", "no", "yes"], "binary"),
        ([True, False, True], "binary"),
        ([0, 1, 1, 0], "binary"),
        ([0.0, 1.0, 1.0], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([1, 2, 3, 4, 5, 3, 2], "multiclass"),  # few distinct integers: class labels
        (np.arange(25) % 21, "regression"),  # 21 distinct integers: more than MAX_CLASSES
        ([0.5, 1.5, 2.5, 0.5], "regression"),  # few values, but not integers
        (np.linspace(0, 1, 50), "regression"),
    ],
)
def test_one_rule_decides_the_task(y, task):
    assert tasks.task_of(y) == task
    assert ev.infer_task(y) == task
    assert tasks.task_of(pd.Series(y)) == task


def test_train_and_evaluate_share_the_rule_and_refuse_the_same_targets():
    assert training.task_of is tasks.task_of
    for bad, match in ((["x", "x"], "1 distinct value"), ([1.0, np.nan, 2.0], "missing")):
        with pytest.raises(DataError, match=match):
            tasks.task_of(bad)
    assert tasks.canonical_task("classification") == "binary"  # the old name
    with pytest.raises(ParameterError) as err:
        tasks.canonical_task("ranking")
    assert err.value.parameter == "task"


def test_the_positive_class_is_named_or_the_last_sorted():
    assert tasks.positive_class(["no", "yes"]) == "yes"
    assert tasks.positive_class([False, True]) is True
    assert tasks.positive_class(np.array([0, 1])) == 1  # today's classes_[1]
    assert tasks.positive_class(["no", "yes"], "no") == "no"
    # a parameter given as text on the command line still finds its class
    assert tasks.positive_class(np.array([0, 1]), "0") == 0
    assert tasks.positive_class([False, True], "False") is False
    with pytest.raises(ParameterError):  # 1 == True in Python, but 1 is not a boolean class
        tasks.positive_class([False, True], 1)
    # -p evaluate.positive_class=no arrives as False (YAML): the class spelt "no" is meant
    assert tasks.positive_class(["no", "yes"], False) == "no"
    assert tasks.positive_class(["No", "Yes"], True) == "Yes"
    with pytest.raises(ParameterError):
        tasks.positive_class(["cat", "dog"], False)
    with pytest.raises(ParameterError, match="'maybe' is not a class") as err:
        tasks.positive_class(["no", "yes"], "maybe")
    assert err.value.parameter == "positive_class"
    with pytest.raises(DataError, match="2 classes"):
        tasks.positive_class(["a", "b", "c"])


def test_pipelines_and_baselines_for_each_task(wine):
    for task in ("binary", "multiclass", "classification"):
        pipe = build_pipeline(wine["X"], model="random_forest", task=task, seed=0, hyper={})
        assert type(pipe[-1]).__name__ == "RandomForestClassifier"
        assert type(build_baseline(wine["X"], kind="dummy", task=task, seed=0)[-1]).__name__ == (
            "DummyClassifier"
        )
    with pytest.raises(ParameterError):
        build_pipeline(wine["X"], model="ridge", task="multiclass", seed=0, hyper={})


# --------------------------------------------------------------------------- metrics


def test_multiclass_metrics_match_sklearn_on_every_resample(wine):
    codes = ev.class_codes(wine["y"], NAMES)
    proba = wine["proba"]
    pred = proba.argmax(axis=1)
    got = ev.point_metrics(codes, proba, ev.MULTICLASS_METRICS)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(codes, pred), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(codes, pred))
    assert got["f1_macro"] == pytest.approx(skm.f1_score(codes, pred, average="macro"))
    assert got["f1_weighted"] == pytest.approx(skm.f1_score(codes, pred, average="weighted"))
    assert got["log_loss"] == pytest.approx(skm.log_loss(codes, proba, labels=[0, 1, 2]))
    idx = np.random.default_rng(1).integers(0, len(codes), size=(30, len(codes)))
    idx[0] = np.flatnonzero(codes != 2)[np.arange(len(codes)) % (codes != 2).sum()]  # no class 2
    checks = {
        "accuracy": lambda t, p: skm.accuracy_score(t, p.argmax(1)),
        "f1_macro": lambda t, p: skm.f1_score(t, p.argmax(1), average="macro"),
        "f1_weighted": lambda t, p: skm.f1_score(t, p.argmax(1), average="weighted"),
        "log_loss": lambda t, p: skm.log_loss(t, p, labels=[0, 1, 2]),
    }
    for name, fn in checks.items():
        np.testing.assert_allclose(
            ev.metric_batch(name, codes, proba, idx),
            [fn(codes[i], proba[i]) for i in idx],
            rtol=1e-9,
            err_msg=name,
        )
    with warnings.catch_warnings():  # a class predicted but absent from a resample's target
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        expected = [skm.balanced_accuracy_score(codes[i], pred[i]) for i in idx]
    np.testing.assert_allclose(ev.metric_batch("balanced_accuracy", codes, proba, idx), expected)


def test_per_class_table_matches_sklearn(wine):
    codes = ev.class_codes(wine["y"], NAMES)
    table = ev.per_class_table(codes, wine["proba"], NAMES)
    p, r, f, support = skm.precision_recall_fscore_support(
        codes, wine["proba"].argmax(1), labels=[0, 1, 2], zero_division=0
    )
    assert list(table["class"]) == list(NAMES)
    np.testing.assert_allclose(table["precision"], p)
    np.testing.assert_allclose(table["recall"], r)
    np.testing.assert_allclose(table["f1"], f)
    assert list(table["support"]) == list(support)


def test_regression_mape_matches_sklearn_and_is_left_out_on_zero_targets():
    rng = np.random.default_rng(2)
    y = rng.normal(50, 10, 200)
    pred = y + rng.normal(0, 5, 200)
    got = ev.point_metrics(y, pred, ["mape"])["mape"]
    assert got == pytest.approx(skm.mean_absolute_percentage_error(y, pred))
    idx = rng.integers(0, 200, size=(10, 200))
    np.testing.assert_allclose(
        ev.metric_batch("mape", y, pred, idx),
        [skm.mean_absolute_percentage_error(y[i], pred[i]) for i in idx],
        rtol=1e-9,
    )
    assert "mape" in ev.evaluate_holdout(y, pred, n_boot=200)
    y[3] = 0.0
    metrics, notes = ev.metrics_for("regression", y)
    assert "mape" not in metrics and "zero" in notes[0]
    intervals = ev.evaluate_holdout(y, pred, n_boot=200)
    assert set(intervals) == {"mae", "rmse", "r2"}
    assert np.isnan(ev.point_metrics(y, pred, ["mape"])["mape"])  # asked for anyway: undefined


def test_multiclass_holdout_intervals_with_text_labels(wine):
    iv = ev.evaluate_holdout(
        wine["y"], wine["proba"], task="multiclass", classes=NAMES, n_boot=400, seed=3
    )
    assert set(iv) == set(ev.MULTICLASS_METRICS)
    for name, interval in iv.items():
        assert interval.low <= interval.value <= interval.high, name
    # the default classes are the target's sorted values, here the same
    again = ev.evaluate_holdout(wine["y"], wine["proba"], task="multiclass", n_boot=400, seed=3)
    assert again == iv
    with pytest.raises(DataError, match="expected"):
        ev.evaluate_holdout(wine["y"], wine["proba"][:, :2], task="multiclass", classes=NAMES)
    with pytest.raises(DataError, match="not classes of the model"):
        ev.evaluate_holdout(wine["y"], wine["proba"], task="multiclass", classes=["a", "b", "c"])
    with pytest.raises(DataError, match="too few of a class"):
        ev.evaluate_holdout(
            wine["y"], wine["proba"], task="multiclass", classes=NAMES, min_class_rows=30
        )


def test_binary_text_labels_score_the_named_positive_class():
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(size=400)})
    y = np.where(X["a"] + 0.5 * rng.normal(size=400) > 0, "yes", "no")
    model = LogisticRegression().fit(X, y)
    p_yes = ev.score_function(model, "binary")(X)
    p_no = ev.score_function(model, "binary", positive_class="no")(X)
    np.testing.assert_allclose(p_yes, model.predict_proba(X)[:, 1])
    np.testing.assert_allclose(p_no, 1 - p_yes)
    auc_no = ev.evaluate_holdout(y, p_no, task="binary", pos_label="no", n_boot=200)["roc_auc"]
    assert auc_no.value == pytest.approx(skm.roc_auc_score(y == "no", p_no))


# --------------------------------------------------------------------------- slices, tests


def test_multiclass_slices(wine):
    report = ev.slice_metrics(
        wine["X"], wine["y"], wine["proba"], {"alcohol": 2}, task="multiclass", classes=NAMES,
        min_rows=5,
    )  # fmt: skip
    assert report.metric == "accuracy"
    assert set(ev.MULTICLASS_METRICS) <= set(report.table.columns)
    codes = ev.class_codes(wine["y"], NAMES)
    overall = skm.accuracy_score(codes, wine["proba"].argmax(1))
    assert report.overall == pytest.approx(overall)
    assert report.table["n"].sum() == len(codes)
    with pytest.raises(ParameterError, match="not a multiclass metric"):
        ev.slice_metrics(wine["X"], wine["y"], wine["proba"], {"alcohol": 2}, metric="roc_auc",
                         task="multiclass", classes=NAMES)  # fmt: skip


def test_multiclass_behavioural_tests_follow_every_class_or_the_named_one(wine):
    predict = ev.score_function(wine["model"], "multiclass")
    frame = wine["X"]
    inv = ev.invariance_test(predict, frame, ["alcohol"], delta=0.5, tolerance=1.0)
    # the largest change of any class's probability, over both directions of the shift
    base = predict(frame)
    step = 0.5 * frame["alcohol"].std(ddof=0)
    changes = [
        np.abs(predict(frame.assign(alcohol=frame["alcohol"] + s)) - base) for s in (step, -step)
    ]
    assert inv.value == pytest.approx(max(c.max() for c in changes))
    spec = {"directional": [{"column": "proline", "direction": "increase", "class": "barolo"}]}
    (d,) = ev.behavioural_suite(predict, frame, spec, classes=NAMES)
    assert d.passed and d.details["mean_change"] > 0  # barolo is the high-proline wine
    with pytest.raises(ParameterError, match="name the class"):
        ev.behavioural_suite(predict, frame, {"directional": [{"column": "proline",
                             "direction": "increase"}]}, classes=NAMES)  # fmt: skip
    with pytest.raises(ParameterError, match="name the class"):
        ev.validate_plan(frame, behavioural={"directional": [{"column": "proline",
                         "direction": "increase"}]}, classes=NAMES)  # fmt: skip
    with pytest.raises(ParameterError, match="not a class"):
        ev.validate_plan(frame, behavioural={"directional": [{"column": "proline",
                         "direction": "increase", "class": "merlot"}]}, classes=NAMES)  # fmt: skip
    with pytest.raises(ParameterError, match="multiclass models only"):
        ev.validate_plan(frame, behavioural={"directional": [{"column": "proline",
                         "direction": "increase", "class": "barolo"}]})  # fmt: skip


def test_gates_that_another_task_measures_do_not_apply():
    kept, skipped = ev.gates_for_task(
        {"min_roc_auc": 0.9, "min_f1_macro": 0.8, "max_rmse": 1.0, "min_accuracy": 0.8},
        "multiclass",
    )
    assert skipped == ["min_roc_auc", "max_rmse"]
    assert set(kept) == {"min_f1_macro", "min_accuracy"}
    _, skipped = ev.gates_for_task({"min_f1_macro": 0.8, "max_mape": 0.1}, "binary")
    assert skipped == ["min_f1_macro", "max_mape"]


# --------------------------------------------------------------------------- Evidently


def test_evidently_multiclass_preset_agrees_with_our_accuracy(wine):
    frame = pd.DataFrame(wine["proba"], columns=list(NAMES))
    frame["target"] = wine["y"]
    frame["prediction"] = NAMES[wine["proba"].argmax(1)]
    snap = ev.evidently_report(
        frame, target="target", score=list(NAMES), prediction="prediction", task="multiclass"
    )
    values = ev.snapshot_metrics(snap)
    accuracy = next(v for k, v in values.items() if k.startswith("Accuracy"))
    codes = ev.class_codes(wine["y"], NAMES)
    assert accuracy == pytest.approx(
        ev.point_metrics(codes, wine["proba"], ["accuracy"])["accuracy"]
    )
    with pytest.raises(ParameterError, match="one score column"):
        ev.evidently_report(frame, target="target", score=list(NAMES), task="binary")


def test_evidently_binary_preset_with_text_labels():
    rng = np.random.default_rng(5)
    y = rng.choice(["no", "yes"], 200)
    score = np.clip((y == "yes") * 0.4 + rng.random(200) * 0.6, 0, 1)
    frame = pd.DataFrame({"target": y, "score": score})
    snap = ev.evidently_report(
        frame, target="target", score="score", task="binary", pos_label="yes"
    )
    values = ev.snapshot_metrics(snap)
    auc = next(v for k, v in values.items() if k.startswith("RocAuc"))
    assert auc == pytest.approx(skm.roc_auc_score(y == "yes", score), abs=1e-9)
