"""The deployment bundle: it loads alone, refuses tampering, and parity failures name the row."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbtrail.core.errors import DataError, GateFailed, IntegrityError, NotFound
from nbtrail.core.hashing import hash_file
from nbtrail.core.manifest import verify_manifest
from nbtrail.practices import export, registry
from nbtrail.practices.export import load_bundle
from nbtrail.practices.models import save_model
from nbtrail.stages import export as export_stage

REPO = Path(__file__).resolve().parents[1]

EVALUATION = {
    "run_id": "evaluate-20261126T130000-abcdef",
    "status": "completed",
    "verdicts": {
        "gate_min_auc": {"passed": True, "value": 0.99, "bound": 0.9},
        "behaviour_monotonic_radius": {"passed": True},
    },
    "metrics": {"roc_auc": 0.99},
}
METRICS = {
    "roc_auc": {"value": 0.991, "ci_low": 0.975, "ci_high": 0.999, "level": 0.95},
    "accuracy": {"value": 0.96, "ci": [0.93, 0.98]},
    "brier": 0.031,
}
LINEAGE = {
    "run_ids": {"data": "data-20261126T120000-000001", "train": "train-20261126T120100-000002"},
    "notebook_hash": "ab" * 32,
    "git_commit": "0123456789abcdef0123456789abcdef01234567",
    "data_versions": ["default@1"],
}


def _bundle(model, dest, X_train, X_hold):
    """The module's bundle of ``model`` at ``dest``: every export here is made the same way."""
    return export.build_bundle(
        model,
        dest,
        name="cancer",
        version=1,
        train_features=X_train,
        holdout_features=X_hold,
        evaluation=EVALUATION,
        metrics=METRICS,
        slices=[{"slice": "mean_radius>15", "rows": 40, "roc_auc": 0.97}],
        intended_use="Demo classifier <script>alert(1)</script> for tests.",
        lineage=LINEAGE,
        enforce_ranges=True,
    )


def _snake(name: str) -> str:
    return name.replace(" ", "_")


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.Series, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X = X.rename(columns=_snake)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


@pytest.fixture(scope="module")
def models(data):
    X_train, _, y_train, _ = data
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X_train, y_train)
    hgb = HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X_train, y_train)
    return {"lr": lr, "hgb": hgb}


@pytest.fixture(scope="module")
def bundles(models, data, tmp_path_factory):
    X_train, X_hold, _, _ = data
    out = {}
    for key, model in models.items():
        dest = tmp_path_factory.mktemp(f"bundle_{key}") / "bundle"
        out[key] = _bundle(model, dest, X_train, X_hold)
    return out


CHILD = r"""
import importlib.abc, json, sys
repo, bundle, digest, engine = sys.argv[1:5]
ours = tuple(repo + "/" + d for d in ("lib", "tests", "bench", "notebooks"))
sys.path[:] = [p for p in sys.path if not p.startswith(ours)]

class NoNbtrail(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] == "nbtrail":
            raise ImportError("the bundle must load without nbtrail")

sys.meta_path.insert(0, NoNbtrail())
sys.path.insert(0, bundle)
import load_bundle

model = load_bundle.load(bundle, expected_digest=digest, engine=engine)
rows = json.load(open(bundle + "/sample_rows.json"))
model.validate(rows)
preds = model.predict(rows)
bad = dict(rows[0]); bad[model.features[0]] = "not a number"
try:
    model.validate([bad]); refused_field = None
except load_bundle.SchemaError as exc:
    refused_field = exc.field
mods = sorted(n for n, m in sys.modules.items() if (getattr(m, "__file__", "") or "").startswith(ours))
print(json.dumps({
    "proba": model.predict_proba(rows).tolist(),
    "labels": [p["label"] for p in preds],
    "repo_modules": mods,
    "nbtrail_loaded": any(n.split(".")[0] == "nbtrail" for n in sys.modules),
    "refused_field": refused_field,
}))
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NBTRAIL"))}
    return env


@pytest.mark.parametrize("engine", ["onnx", "skops"])
@pytest.mark.parametrize("key", ["lr", "hgb"])
def test_bundle_loads_alone_in_a_fresh_python(key, engine, bundles, models, data, tmp_path):
    bundle = bundles[key]
    target = tmp_path / "deployed"
    shutil.copytree(bundle.path, target)  # somewhere else, as a serving system would
    proc = subprocess.run(
        [sys.executable, "-I", "-c", CHILD, str(REPO), str(target), bundle.digest, engine],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["nbtrail_loaded"] is False
    assert out["repo_modules"] == []
    assert out["refused_field"] == "mean_radius"
    rows = pd.DataFrame(json.loads((target / "sample_rows.json").read_text()))
    rows = rows[list(models[key].feature_names_in_)]  # JSON objects are unordered
    expected = models[key].predict_proba(rows)
    np.testing.assert_allclose(np.array(out["proba"]), expected, atol=1e-5, rtol=0)
    assert out["labels"] == [int(c) for c in models[key].classes_[expected.argmax(axis=1)]]


def test_loader_script_cli_predicts_and_refuses_tampering(bundles, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    run = [sys.executable, "-I", str(target / "load_bundle.py")]
    ok = subprocess.run(run, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["predictions"]) == 5

    rows = json.loads((target / "sample_rows.json").read_text())
    rows[0]["mean_radius"] = 1e9  # far outside the training range
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    bad = subprocess.run(
        [*run, str(tmp_path / "rows.json")],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "mean_radius" in bad.stderr

    onnx = target / "model.onnx"
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    refused = subprocess.run(run, cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert refused.returncode == 1
    assert "model.onnx" in refused.stderr


@pytest.mark.parametrize(
    "victim", ["model.onnx", "model.skops", "input_schema.json", "load_bundle.py"]
)
def test_tampered_bundle_file_is_refused_by_name(victim, bundles, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    export.verify_bundle(target, expected_digest=bundles["lr"].digest)
    with (target / victim).open("ab") as fh:
        fh.write(b"\n")
    with pytest.raises(IntegrityError) as info:
        export.verify_bundle(target)
    assert info.value.facts["file"] == victim
    assert victim in str(info.value)


def test_rewritten_manifest_is_caught_by_the_pinned_digest(bundles, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    (target / "metrics.json").write_text('{"metrics": {"roc_auc": {"value": 1.0}}}')
    export.write_manifest(target)  # an attacker re-hashing everything
    export.verify_bundle(target)  # self-consistent...
    with pytest.raises(IntegrityError) as info:  # ...but not the bundle that was exported
        export.verify_bundle(target, expected_digest=bundles["lr"].digest)
    assert info.value.facts["file"] == "manifest.json"


def test_unlisted_and_missing_files_are_refused(bundles, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    (target / "extra.py").write_text("print('hi')\n")
    with pytest.raises(IntegrityError, match="extra.py"):
        export.verify_bundle(target)
    (target / "extra.py").unlink()
    (target / "model_card.html").unlink()
    with pytest.raises(IntegrityError, match="model_card.html"):
        export.verify_bundle(target)


def test_parity_passes_within_tolerance(bundles):
    for bundle in bundles.values():
        parity = bundle.meta["parity"]
        assert parity["max_abs_diff"] <= 1e-5
        assert parity["rows"] == 171


def test_parity_failure_names_the_largest_gap_and_its_row(models, data):
    _, X_hold, _, _ = data
    wrong_onnx, spec = export.to_onnx(models["hgb"], X_hold)  # not the LR's graph
    expected = models["lr"].predict_proba(X_hold)
    got = export.onnx_predict_proba(wrong_onnx, X_hold, spec)
    gaps = np.abs(got - expected)
    row = int(np.unravel_index(np.argmax(gaps), gaps.shape)[0])
    with pytest.raises(GateFailed) as info:
        export.check_parity(models["lr"], wrong_onnx, X_hold, spec)
    assert info.value.facts["row"] == row
    assert info.value.facts["index"] == int(X_hold.index[row])
    assert info.value.facts["max_abs_diff"] == pytest.approx(gaps.max())
    assert f"row {row} " in str(info.value)


def test_tolerance_zero_fails_float32_trees(models, data):
    _, X_hold, _, _ = data
    onx, spec = export.to_onnx(models["hgb"], X_hold)
    assert spec["input_dtype"] == "float32"  # ONNX Runtime's tree ensembles are float32
    facts = export.check_parity(models["hgb"], onx, X_hold, spec)
    assert 0 < facts["max_abs_diff"] <= 1e-5
    with pytest.raises(GateFailed, match="parity failed"):
        export.check_parity(models["hgb"], onx, X_hold, spec, tolerance=0.0)


def test_the_train_stage_pipeline_exports_with_named_inputs(data, tmp_path):
    from nbtrail.practices.training import build_pipeline

    X_train, X_hold, y_train, _ = data
    pipe = build_pipeline(
        X_train, model="logistic_regression", task="classification", seed=0, hyper={"C": 1.0}
    ).fit(X_train, y_train)
    bundle = export.build_bundle(
        pipe,
        tmp_path / "b",
        name="cancer",
        version=2,
        train_features=X_train,
        holdout_features=X_hold,
        evaluation=EVALUATION,
    )
    assert bundle.meta["onnx"]["layout"] == "columns"  # the ColumnTransformer selects by name
    assert bundle.meta["parity"]["max_abs_diff"] <= 1e-5


def test_column_names_skl2onnx_renames_still_feed_the_graph(tmp_path):
    """skl2onnx names a graph input 'a/b' as 'a_b' (wine's od280/od315_of_diluted_wines):
    the bundle records the renaming, and the shipped loader feeds the renamed input."""
    from sklearn.datasets import load_wine

    from nbtrail.practices.training import build_pipeline

    X, y = load_wine(return_X_y=True, as_frame=True)
    assert "od280/od315_of_diluted_wines" in X.columns
    X_train, X_hold, y_train, _ = train_test_split(X, y, test_size=0.3, random_state=0)
    pipe = build_pipeline(
        X_train, model="logistic_regression", task="multiclass", seed=0, hyper={"C": 1.0}
    ).fit(X_train, y_train)
    bundle = export.build_bundle(
        pipe,
        tmp_path / "b",
        name="wine",
        version=1,
        train_features=X_train,
        holdout_features=X_hold,
        evaluation=EVALUATION,
    )
    spec = bundle.meta["onnx"]
    assert spec["names"] == {"od280/od315_of_diluted_wines": "od280_od315_of_diluted_wines"}
    assert bundle.meta["parity"]["max_abs_diff"] <= 1e-5
    model = load_bundle.load(bundle.path, expected_digest=bundle.digest)
    rows = json.loads((bundle.path / "sample_rows.json").read_text())
    expected = pipe.predict_proba(pd.DataFrame(rows)[model.features])
    np.testing.assert_allclose(model.predict_proba(rows), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "evaluation, match",
    [
        (None, "no evaluation"),
        ({**EVALUATION, "status": "failed"}, "is failed"),
        ({**EVALUATION, "verdicts": {}}, "no verdicts"),
        (
            {**EVALUATION, "verdicts": {"gate_min_auc": {"passed": False}, "ok": {"passed": True}}},
            "failed gate_min_auc",
        ),
    ],
)
def test_export_refuses_missing_or_failed_evaluation(evaluation, match, models, data, tmp_path):
    X_train, X_hold, _, _ = data
    dest = tmp_path / "bundle"
    with pytest.raises(GateFailed, match=match):
        export.build_bundle(
            models["lr"],
            dest,
            name="cancer",
            version=1,
            train_features=X_train,
            holdout_features=X_hold,
            evaluation=evaluation,
        )
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder left behind


def test_schema_card_metrics_and_requirements(bundles, data):
    X_train, _, _, _ = data
    b = bundles["lr"].path
    schema = json.loads((b / "input_schema.json").read_text())
    assert schema["required"] == list(X_train.columns)
    assert schema["additionalProperties"] is False
    prop = schema["properties"]["mean_radius"]
    assert prop["type"] == "number"
    assert prop["minimum"] == pytest.approx(X_train["mean_radius"].min())
    assert prop["maximum"] == pytest.approx(X_train["mean_radius"].max())
    out = json.loads((b / "output_schema.json").read_text())
    assert out["x-classes"] == [0, 1]
    metrics = json.loads((b / "metrics.json").read_text())
    assert metrics["metrics"]["accuracy"] == {
        "value": 0.96,
        "ci_low": 0.93,
        "ci_high": 0.98,
        "level": 0.95,
    }
    assert metrics["tests"]["gate_min_auc"]["passed"] is True
    card = (b / "model_card.md").read_text()
    for section in (
        "## Intended use",
        "## Data versions",
        "## Metrics",
        "## Slices",
        "## Tests passed",
        "## Lineage",
        "default@1",
        LINEAGE["git_commit"],
        "train-20261126T120100-000002",
        "0.975",
    ):
        assert section in card
    html = (b / "model_card.html").read_text()
    assert "<table>" in html and "<script>" not in html and "&lt;script&gt;" in html
    reqs = (b / "requirements-onnx.txt").read_text()
    assert "onnxruntime==" in reqs and "numpy==" in reqs
    assert "scikit-learn==" in (b / "requirements-skops.txt").read_text()
    manifest = json.loads((b / "manifest.json").read_text())
    assert manifest["algorithm"] == "sha256"
    assert set(manifest["files"]) == set(bundles["lr"].files)
    assert "pickle" not in {p.suffix for p in b.iterdir()} and not list(b.glob("*.pkl"))


def test_schema_nullable_integer_and_text_columns():
    frame = pd.DataFrame(
        {"a": [1, 2, 3], "b": [0.5, None, 2.0], "c": ["x", "y", None], "d": [True, False, True]}
    )
    s = export.input_schema(frame, enforce_ranges=False)
    assert s["properties"]["a"]["type"] == "integer"
    assert s["properties"]["a"]["x-training-maximum"] == 3 and "maximum" not in s["properties"]["a"]
    assert s["properties"]["b"]["type"] == ["number", "null"]
    assert s["properties"]["c"]["enum"] == ["x", "y", None]
    assert s["properties"]["d"]["type"] == "boolean"


def test_existing_destination_is_refused(bundles, tmp_path):
    dest = tmp_path / "taken"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="not empty"):
        export.copy_bundle(bundles["lr"].path, dest)
    assert (dest / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("key", ["lr", "hgb"])
def test_the_same_model_exported_again_is_the_same_bundle_byte_for_byte(
    key, models, data, bundles, tmp_path
):
    """``nbtrail reproduce`` of the export stage compares the bundle's digest: a copy of the
    model (other object ids: skops named its arrays after them), converted again (skl2onnx
    named the graph with a random UUID), a second later (the card and bundle.json were dated,
    skops' zip members stamped) must give the same files and so the same digest."""
    X_train, X_hold, _, _ = data
    model = copy.deepcopy(models[key])
    time.sleep(1.1)
    again = _bundle(model, tmp_path / "again", X_train, X_hold)
    first = bundles[key]
    differ = [
        rel
        for rel in sorted({*first.files, *again.files})
        if (first.path / rel).read_bytes() != (again.path / rel).read_bytes()
    ]
    assert differ == [], differ
    assert again.digest == first.digest


OPSETS_CHILD = r"""
import json
from sklearn.datasets import load_breast_cancer
from nbtrail.practices.export import to_onnx
from nbtrail.practices.training import build_pipeline
X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X = X.rename(columns=lambda c: c.replace(" ", "_"))
pipe = build_pipeline(X, model="hist_gradient_boosting", task="binary", seed=42,
                      hyper={"max_depth": 3, "n_estimators": 5}).fit(X, y)
import onnx
onnx_bytes, _ = to_onnx(pipe, X)
print(json.dumps([[o.domain, o.version] for o in onnx.load_from_string(onnx_bytes).opset_import]))
"""


def test_onnx_operator_sets_do_not_follow_the_hash_seed():
    """skl2onnx lists a model's operator sets in the order of a set of (domain, version)
    pairs, so in another process (another PYTHONHASHSEED) the same model converted to other
    bytes. Hash seed 0 put ``ai.onnx.ml`` before the default domain for the train stage's
    default pipeline (skl2onnx 1.20.0); the conversion sorts them."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    out = subprocess.run(
        [sys.executable, "-c", OPSETS_CHILD], capture_output=True, text=True, env=env, check=True
    )
    opsets = [tuple(o) for o in json.loads(out.stdout.strip().splitlines()[-1])]
    assert len(opsets) >= 2 and opsets == sorted(opsets), opsets


def test_export_version_copies_the_registered_bundle(ws, models, data, tmp_path):
    X_train, X_hold, _, _ = data
    model_file = save_model(
        models["lr"], ws.run_dir("train-20261126T120100-000002") / "model.skops"
    )
    v = registry.register_model(
        ws,
        "cancer",
        artifact_path=model_file,
        digest=hash_file(model_file),
        run_id="train-20261126T120100-000002",
        metrics={"roc_auc": 0.99},
        verdict=True,
    )
    with pytest.raises(NotFound, match="run the export stage"):
        export.export_version(ws, "cancer@1", tmp_path / "nothing")
    built = export.build_bundle(
        models["lr"],
        export.bundle_dir(ws, "cancer", v),
        name="cancer",
        version=v,
        train_features=X_train,
        holdout_features=X_hold,
        evaluation=EVALUATION,
    )
    registry.set_bundle(ws, "cancer", v, built.digest)
    registry.promote(ws, "cancer", v, "champion", "first model")
    copied = export.export_version(ws, "cancer@champion", tmp_path / "out")
    assert copied.digest == built.digest and (tmp_path / "out" / "load_bundle.py").is_file()

    with (built.path / "model.skops").open("ab") as fh:
        fh.write(b"x")
    with pytest.raises(IntegrityError, match="model.skops"):
        export.export_version(ws, "cancer@champion", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_smoke_test_runs_the_bundled_loader(bundles):
    out = export.smoke_test(bundles["lr"].path)
    assert out["digest"] == bundles["lr"].digest and len(out["predictions"]) == 5


def test_metrics_detail_reads_the_evaluate_stage_shapes():
    detail = {
        "intervals": {
            "roc_auc": {
                "metric": "roc_auc",
                "value": 0.98,
                "low": 0.96,
                "high": 0.99,
                "level": 0.95,
                "n_boot": 1000,
                "n_rows": 113,
            }
        },
        "slices": {"metric": "accuracy", "slices": [{"slice": "a", "rows": 50, "accuracy": 0.9}]},
    }
    metrics, slices = export_stage._metrics_detail(detail)
    assert export.normalize_metrics(metrics)["roc_auc"] == {
        "value": 0.98,
        "ci_low": 0.96,
        "ci_high": 0.99,
        "level": 0.95,
    }
    assert slices == [{"slice": "a", "rows": 50, "accuracy": 0.9}]
    assert export_stage._metrics_detail({"metrics": {"f1": 0.9}, "slices": []}) == ({"f1": 0.9}, [])


def test_required_prefix_lets_advisory_tests_fail():
    evaluation = {
        **EVALUATION,
        "verdicts": {"gate_auc": {"passed": True}, "test_invariance": {"passed": False}},
    }
    with pytest.raises(GateFailed, match="test_invariance"):
        export.check_evaluation(evaluation)
    assert set(export.check_evaluation(evaluation, required="gate_")) == {
        "gate_auc",
        "test_invariance",
    }
    evaluation["verdicts"]["gate_auc"] = {"passed": False}
    with pytest.raises(GateFailed, match="gate_auc"):
        export.check_evaluation(evaluation, required="gate_")


def test_load_bundle_is_the_shipped_file(bundles):
    shipped = (bundles["lr"].path / "load_bundle.py").read_bytes()
    assert shipped == Path(load_bundle.__file__).read_bytes() == export.loader_source()
    assert not hasattr(export, "LOADER")


def test_load_bundle_as_a_module_verifies_loads_and_predicts(bundles, models, tmp_path):
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    digest = bundles["lr"].digest
    assert load_bundle.verify(target, digest) == digest
    model = load_bundle.load(target, expected_digest=digest)
    rows = json.loads((target / "sample_rows.json").read_text())
    preds = model.predict(rows)
    expected = models["lr"].predict_proba(pd.DataFrame(rows)[model.features])
    np.testing.assert_allclose(model.predict_proba(rows), expected, atol=1e-5, rtol=0)
    assert [p["label"] for p in preds] == expected.argmax(axis=1).tolist()
    with pytest.raises(load_bundle.SchemaError) as bad:
        model.validate([{**rows[0], "mean_radius": None}])
    assert (bad.value.row, bad.value.field) == (0, "mean_radius")

    data = bytearray((target / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (target / "model.onnx").write_bytes(bytes(data))
    with pytest.raises(load_bundle.IntegrityError) as info:
        load_bundle.load(target, expected_digest=digest)
    assert info.value.file == "model.onnx"
    with pytest.raises(load_bundle.IntegrityError, match="expected digest"):
        load_bundle.verify(bundles["hgb"].path, digest)  # another bundle's manifest


def _tamper(target: Path, how: str) -> None:
    if how == "changed":
        with (target / "input_schema.json").open("ab") as fh:
            fh.write(b" ")
    elif how == "missing":
        (target / "model_card.html").unlink()
    elif how == "unlisted":
        (target / "extra.py").write_text("print('hi')\n")
    elif how == "rewritten manifest":
        (target / "metrics.json").write_text("{}")
        export.write_manifest(target)


@pytest.mark.parametrize("how", ["none", "changed", "missing", "unlisted", "rewritten manifest"])
def test_the_loader_and_nbtrail_give_the_same_verdict(how, bundles, tmp_path):
    """The loader checks the manifest without nbtrail; both checks refuse the same file."""
    target = tmp_path / "b"
    shutil.copytree(bundles["lr"].path, target)
    _tamper(target, how)
    digest = bundles["lr"].digest
    try:
        verify_manifest(target, expected_digest=digest)
        ours = None
    except IntegrityError as exc:
        ours = exc.facts["file"]
    try:
        load_bundle.verify(target, digest)
        theirs = None
    except load_bundle.IntegrityError as exc:
        theirs = exc.file
    assert ours == theirs
    assert (ours is None) == (how == "none")


def test_loader_errors_survive_pickling():
    import pickle

    err = pickle.loads(pickle.dumps(load_bundle.IntegrityError("bundle file x changed", "x")))
    assert (str(err), err.file) == ("bundle file x changed", "x")
    err2 = pickle.loads(pickle.dumps(load_bundle.SchemaError("row 3: bad", 3, "a")))
    assert (str(err2), err2.row, err2.field) == ("row 3: bad", 3, "a")


def test_load_bundle_imports_nothing_a_serving_python_lacks():
    """Standard library, numpy and onnxruntime (jsonschema, skops, pandas where optional)."""
    import ast

    tree = ast.parse(Path(load_bundle.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    allowed = {"numpy", "onnxruntime", "jsonschema", "skops", "pandas"}
    assert names - allowed <= set(sys.stdlib_module_names) | {"__future__"}, names
    assert "nbtrail" not in names


def test_stage_lineage_names_the_runs_data_and_code():
    def rec(stage: str, **more):
        return {"run_id": f"{stage}-1", "notebook": {"hash": f"h-{stage}"}, **more}

    records = {
        "data": rec("data", outputs={"snapshot": {"kind": "dataset", "ref": "default@2"}}),
        "train": rec(
            "train",
            inputs=[{"kind": "dataset", "ref": "default@2"}],
            outputs={"model": {"kind": "model", "digest": "b3"}},
            git={"commit": "abc", "dirty": False},
            params={"max_depth": 3},
            ended="2026-11-26T12:01:30.000+00:00",
        ),
        "evaluate": rec("evaluate"),
    }
    lin = export_stage.lineage(records)
    # not the export run's own id: the same inputs make the same bundle (nbtrail reproduce)
    assert lin["run_ids"] == {"data": "data-1", "train": "train-1", "evaluate": "evaluate-1"}
    assert lin["trained"] == "2026-11-26T12:01:30.000+00:00"
    assert lin["data_versions"] == ["default@2"]
    assert lin["notebook_hash"]["evaluate"] == "h-evaluate"
    assert (lin["git_commit"], lin["git_dirty"]) == ("abc", False)
    assert lin["params"] == {"train": '{"max_depth": 3}'}
    assert lin["model_digest_blake3"] == "b3"


@pytest.mark.parametrize("model", ["ridge", "random_forest"])
def test_a_regressor_exports_with_parity_and_loads_alone(model, tmp_path):
    """Regression: ONNX ``variable`` against ``predict`` (relative gap), a prediction schema,
    and the bundle's own loader predicting values in a fresh ``python -I``."""
    from sklearn.datasets import load_diabetes

    from nbtrail.practices.training import build_pipeline

    frame = load_diabetes(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_hold, y_train = X.iloc[:300], X.iloc[300:], y.iloc[:300]
    pipe = build_pipeline(X_train, model=model, task="regression", seed=0, hyper={}).fit(
        X_train, y_train
    )
    bundle = export.build_bundle(
        pipe,
        tmp_path / "b",
        name="diabetes",
        version=1,
        train_features=X_train,
        holdout_features=X_hold,
        evaluation=EVALUATION,
    )
    assert bundle.meta["task"] == "regression" and bundle.meta["classes"] == []
    assert bundle.meta["parity"]["gap"] == "relative prediction"
    assert bundle.meta["parity"]["max_abs_diff"] <= 1e-5
    out = json.loads((bundle.path / "output_schema.json").read_text())
    assert out["required"] == ["prediction"]
    loaded = load_bundle.load(bundle.path)
    rows = json.loads((bundle.path / "sample_rows.json").read_text())
    got = [p["prediction"] for p in loaded.predict(rows)]
    want = pipe.predict(pd.DataFrame(rows)[X_train.columns])
    np.testing.assert_allclose(got, want, rtol=1e-4)
    with pytest.raises(ValueError, match="predicts values"):
        loaded.predict_proba(rows)
    smoke = export.smoke_test(bundle.path)  # the bundle's loader, alone, in python -I
    assert len(smoke["predictions"]) == len(rows) and "prediction" in smoke["predictions"][0]


def test_float32_thresholds_are_placed_where_scikit_learn_splits():
    """bmi 27.3 against HistGradientBoosting's split 27.299999999999997 (halfway to 27.2 and
    27.4 in float64): in float32 both are one number, so ONNX sent 27.3 left; the placed
    threshold sends it right and 27.2 left. Decision trees compare float32 inputs with a
    float64 threshold: rounding it down gives their branch for every float32."""
    from nbtrail.practices.export.tree_thresholds import placed

    t = (27.2 + 27.4) / 2
    assert t < 27.3 and np.float32(t) == np.float32(27.3)  # the flip
    hgb = np.float32(placed(t, float64_inputs=True))
    assert np.float32(27.2) <= hgb < np.float32(27.3)
    assert placed(27.25, float64_inputs=True) == float(np.float32(27.25))  # 27.25 <= t: kept
    rng = np.random.default_rng(0)
    for t in rng.normal(size=2000) * 10.0 ** rng.integers(-3, 4, size=2000):
        x = np.float32(t)
        lower = np.nextafter(x, np.float32(-np.inf))
        for v in (lower, x, np.nextafter(x, np.float32(np.inf))):
            tree = np.float32(placed(float(t), float64_inputs=False))
            assert (float(v) <= t) == (v <= tree)


def test_a_gradient_boosted_regressor_on_decimal_data_exports_at_parity(tmp_path):
    """The default model on unscaled diabetes (decimal bmi, bp, s-values): without placed
    thresholds ONNX was 0.7% off at one holdout row (178.6 against 179.9)."""
    from sklearn.datasets import load_diabetes

    from nbtrail.practices.training import build_pipeline

    frame = load_diabetes(as_frame=True, scaled=False).frame
    X, y = frame.drop(columns="target"), frame["target"]
    X_train, X_hold, y_train = X.iloc[:300], X.iloc[300:], y.iloc[:300]
    pipe = build_pipeline(
        X_train, model="hist_gradient_boosting", task="regression", seed=42, hyper={}
    ).fit(X_train, y_train)
    onx, spec = export.to_onnx(pipe, X_train)
    parity = export.check_parity(pipe, onx, X_hold, spec)
    assert parity["max_abs_diff"] <= 1e-5
