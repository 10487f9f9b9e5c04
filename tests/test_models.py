"""skops save/load: round trips, and a reviewed allow-list that refuses everything else."""

from __future__ import annotations

import os

import numpy as np
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from nbtrail.core.errors import IntegrityError
from nbtrail.practices.models import TRUSTED_TYPES, load_model, save_model


class Sneaky(StandardScaler):
    """An estimator class nobody reviewed."""


@pytest.fixture(scope="module")
def xy():
    return load_breast_cancer(return_X_y=True, as_frame=True)


@pytest.mark.parametrize(
    "make",
    [
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0),
        lambda: RandomForestClassifier(n_estimators=5, random_state=0),
    ],
    ids=["scaler+lr", "hgb", "forest"],
)
def test_round_trip_predicts_identically(make, xy, tmp_path):
    X, y = xy
    model = make().fit(X, y)
    path = save_model(model, tmp_path / "m.skops")
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_no_prefix_rules_in_the_allow_list():
    assert all("." in t and not t.endswith(".") for t in TRUSTED_TYPES)
    assert "numpy.load" not in TRUSTED_TYPES


@pytest.mark.parametrize(
    "make, refused",
    [
        (lambda: Sneaky(), f"{__name__}.Sneaky"),
        (lambda: FunctionTransformer(func=os.system), "posix.system"),
        (lambda: FunctionTransformer(func=np.load), "numpy.load"),
    ],
    ids=["unreviewed-class", "os.system", "numpy.load"],
)
def test_untrusted_types_are_refused_by_name(make, refused, xy, tmp_path):
    X, y = xy
    model = make()
    if isinstance(model, Sneaky):
        model.fit(X)  # never fit the FunctionTransformers: fitting calls their func
    with pytest.raises(ValueError, match="allow-list"):
        save_model(model, tmp_path / "refused.skops")
    assert not (tmp_path / "refused.skops").exists()

    path = tmp_path / "foreign.skops"
    path.write_bytes(sio.dumps(model))  # written by someone else, without our check
    with pytest.raises(IntegrityError) as info:
        load_model(path)
    assert refused in info.value.facts["types"]
    assert refused in str(info.value)
