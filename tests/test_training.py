"""The train stage's pipeline on real columns: missing values, high-cardinality categoricals,
booleans and datetimes, chosen from the dtypes; saved with skops and converted to ONNX."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import ParameterError
from nbtrail.practices.models import load_model, save_model
from nbtrail.practices.training import (
    MIN_LEVEL_ROWS,
    build_pipeline,
    category_levels,
    plan_features,
)


def messy(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """Numeric and categorical columns with missing values, a 150-level categorical, a boolean
    and a datetime, with a label that depends on them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice([f"city_{i:03d}" for i in range(150)], n)
    frame = pd.DataFrame(
        {
            "x": x,
            "amount": rng.gamma(2.0, 10.0, n),
            "city": city,
            "plan": rng.choice(["free", "pro", "team"], n),
            "active": rng.random(n) < 0.5,
            "signup": pd.date_range("2022-01-01", periods=n, freq="h"),
        }
    )
    logit = 1.5 * x + (frame["plan"] == "pro") - 0.8 * frame["active"]
    y = pd.Series(np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no"), name="y")
    frame.loc[rng.random(n) < 0.15, "x"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    frame.loc[rng.random(n) < 0.1, "plan"] = np.nan
    return frame, y


def test_features_follow_the_dtypes_and_datetimes_are_left_out():
    frame, y = messy()
    plan = plan_features(frame.assign(y=y), "y", None, [])
    assert plan.numeric == ["x", "amount", "active"] and plan.categorical == ["city", "plan"]
    assert plan.columns == ["x", "amount", "city", "plan", "active"]
    assert plan.left_out == [{"column": "signup", "reason": "datetime: not fed raw to the model"}]
    assert plan.lines() == ["left out: signup (datetime: not fed raw to the model)"]
    with pytest.raises(ParameterError, match="datetime columns cannot be features: signup"):
        plan_features(frame.assign(y=y), "y", ["x", "signup"], [])
    timed = plan_features(frame.assign(y=y), "y", None, ["signup"])
    assert timed.left_out[0]["reason"] == "the data stage's id or time column (a datetime)"


@pytest.mark.parametrize(
    "model", ["hist_gradient_boosting", "logistic_regression", "random_forest"]
)
def test_missing_values_are_imputed_for_every_column_type(model):
    frame, y = messy()
    X = frame[plan_features(frame, "y", None, []).columns]
    pipe = build_pipeline(X, model=model, task="classification", seed=0, hyper={})
    pipe.fit(X, y)  # warnings are errors in the tests: none may be raised
    unseen = X.head(5).copy()
    unseen.loc[:, "x"] = np.nan
    unseen.loc[:, "city"] = "a city never seen"
    unseen.loc[:, "plan"] = None
    proba = pipe.predict_proba(unseen)
    assert proba.shape == (5, 2) and np.isfinite(proba).all()
    assert pipe.score(X, y) > 0.6


def test_a_high_cardinality_categorical_is_encoded_on_its_frequent_levels():
    frame, y = messy()
    X = frame[["x", "city", "plan"]]
    pipe = build_pipeline(
        X, model="logistic_regression", task="classification", seed=0, hyper={}, max_categories=8
    )
    pipe.fit(X, y)
    encoder = pipe.named_steps["prepare"].named_transformers_["cat"]
    city_levels, plan_levels = encoder.categories_
    assert len(city_levels) <= 8 and list(plan_levels) == ["free", "pro", "team"]
    counts = X["city"].value_counts()
    assert all(counts[c] >= MIN_LEVEL_ROWS for c in city_levels)
    width = pipe.named_steps["prepare"].transform(X).shape[1]
    assert width == 1 + len(city_levels) + 3


def test_category_levels_are_the_most_frequent_and_predictable():
    s = pd.Series(["a"] * 9 + ["b"] * 7 + ["c"] * 7 + ["d"] * 2 + [None] * 5)
    assert category_levels(s, 2) == ["a", "b"]  # ties broken by value
    assert category_levels(s, 10) == ["a", "b", "c"]  # "d" is too rare, missing is no level
    assert category_levels(pd.Series([3, 1, 2] * 5, dtype="category"), 5) == [1, 2, 3]


def test_a_regressor_takes_the_same_columns():
    frame, _ = messy()
    X = frame[["x", "amount", "city", "plan", "active"]]
    y = X["amount"].fillna(0) * 2 + np.random.default_rng(1).normal(size=len(X))
    pipe = build_pipeline(X, model="ridge", task="regression", seed=0, hyper={})
    assert pipe.fit(X, y).score(X, y) > 0.9


def test_the_pipeline_saves_with_skops_and_converts_to_onnx_with_parity(tmp_path):
    from nbtrail import export as ex

    frame, y = messy()
    X = frame[["x", "amount", "city", "plan"]]
    pipe = build_pipeline(
        X, model="hist_gradient_boosting", task="classification", seed=0, hyper={}
    )
    pipe.fit(X, y)
    loaded = load_model(save_model(pipe, tmp_path / "m.skops"))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    onnx_bytes, spec = ex.to_onnx(pipe, X)
    parity = ex.check_parity(pipe, onnx_bytes, X, spec)
    assert parity["max_abs_diff"] < 1e-5  # rows with missing and rare levels included
