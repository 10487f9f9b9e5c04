"""Monitoring: false alarms and detection power by simulation, verdicts, data quality, history.

The simulations run the real verdict (:func:`check_batch`, which calls the per-column tests
and the Benjamini-Hochberg correction) on batches drawn with numpy, seeded so they are
repeatable. Tolerances are three binomial standard errors of the simulated rate.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import DataError, ParameterError, VerdictFailed
from nbtrail.practices import monitoring as m
from nbtrail.stages import monitor as stage

N_NUM, CATS = 10, (("a", "b", "c"), ("u", "v"))


def synthetic(rng: np.random.Generator, n: int, shift: float = 0.0, cat_p=None) -> pd.DataFrame:
    """10 standard-normal columns (x0 shifted by ``shift`` SD) and 2 categorical columns."""
    data = {f"x{i}": rng.normal(size=n) for i in range(N_NUM)}
    data["x0"] = data["x0"] + shift
    data["c0"] = rng.choice(CATS[0], size=n, p=cat_p or (0.5, 0.3, 0.2))
    data["c1"] = rng.choice(CATS[1], size=n)
    return pd.DataFrame(data)


def alarm_rate(reps: int, seed: int, config: m.MonitorConfig, **batch_kw) -> float:
    rng = np.random.default_rng(seed)
    alarms = 0
    for _ in range(reps):
        ref, cur = synthetic(rng, 500), synthetic(rng, 200, **batch_kw)
        alarms += not m.check_batch(ref, cur, config, target=None).passed
    return alarms / reps


def test_false_alarm_rate_is_at_most_alpha_with_benjamini_hochberg():
    """Batches from the reference distribution alarm at most alpha (+3 SE) of the time."""
    reps, alpha = 600, 0.05
    rate = alarm_rate(reps, seed=11, config=m.MonitorConfig(alpha=alpha, min_effect=0.0))
    tolerance = 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert rate <= alpha + tolerance, (rate, alpha + tolerance)


def test_uncorrected_tests_would_alarm_far_more_often():
    """The simulation can tell: without correction 12 columns alarm ~46% of the time."""
    rng = np.random.default_rng(5)
    kinds = {f"x{i}": "num" for i in range(N_NUM)} | {"c0": "cat", "c1": "cat"}
    hits = 0
    reps = 100
    for _ in range(reps):
        t = m.column_tests(synthetic(rng, 500), synthetic(rng, 200), kinds)
        hits += bool((t["p_value"] < 0.05).any())
    assert hits / reps > 0.3


@pytest.mark.parametrize(
    "what,batch_kw",
    [
        ("numeric mean shift of 0.5 SD in 1 of 12 columns", {"shift": 0.5}),
        ("categorical shares moved by TV distance 0.2", {"cat_p": (0.3, 0.3, 0.4)}),
    ],
)
def test_injected_drift_is_caught_at_least_95_percent(what, batch_kw):
    rate = alarm_rate(300, seed=23, config=m.MonitorConfig(), **batch_kw)
    assert rate >= 0.95, (what, rate)


def test_performance_check_false_alarms_and_power():
    """Exact binomial test: at the bound it alarms <= alpha; 15 points below it, >= 95%."""
    rng = np.random.default_rng(3)
    n, reps, alpha = 200, 1000, 0.05
    y = rng.integers(0, 2, size=n)

    def rate(acc: float) -> float:
        fails = 0
        for _ in range(reps):
            wrong = rng.random(n) >= acc
            pred = np.where(wrong, 1 - y, y)
            fails += m.performance_check(y, pred, 0.95, 0.05, alpha).status == m.FAIL
        return fails / reps

    assert rate(0.90) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert rate(0.75) >= 0.95


def test_bh_threshold_matches_adjusted_p_values():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    t = m.bh_threshold(p, 0.05)
    from scipy.stats import false_discovery_control

    assert set(np.nonzero(p <= t)[0]) == set(np.nonzero(false_discovery_control(p) < 0.05)[0])
    assert t == 0.008
    assert m.bh_threshold([0.5, 0.9], 0.05) == 0.0


# -- verdicts on the default dataset --------------------------------------------------------


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    df = load_breast_cancer(as_frame=True).frame
    df.columns = [c.replace(" ", "_") for c in df.columns]
    split = np.random.default_rng(0).choice(["train", "reference"], size=len(df), p=(0.7, 0.3))
    df["_split"] = split
    feats = [c for c in df.columns if c not in ("target", "_split")]
    train = df[split == "train"]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(train[feats], train["target"])
    return df[split == "reference"].reset_index(drop=True), model


def test_demo_batches_get_the_documented_verdicts(cancer):
    ref, model = cancer
    plan = stage.demo_plan(ref, seed=0)
    # chosen from the data: the first three numeric columns, and the one closest to the label
    assert plan.drift_columns == ("mean_radius", "mean_texture", "mean_perimeter")
    feats = m.feature_columns(ref, "target")
    assert plan.segment_column == ref[feats].corrwith(ref["target"]).abs().idxmax()
    batches = stage.demo_batches(ref, plan)
    again = stage.demo_batches(ref, seed=0)
    for k in stage.DEMO_KINDS:
        pd.testing.assert_frame_equal(batches[k], again[k])
    clean, cov, concept = m.check_batches(ref, batches, model=model, baseline=0.96)
    assert clean.status == m.PASS, clean.summary
    assert cov.status == m.FAIL and cov.kind == "covariate drift", cov.summary
    assert set(cov.drifted_columns) == set(plan.drift_columns)
    assert all(c in cov.summary for c in plan.drift_columns)
    assert concept.status == m.FAIL and concept.kind == "concept drift", concept.summary
    assert "concept drift" in concept.summary and "accuracy" in concept.summary
    assert concept.drifted_columns == []
    m.check_expected([clean, cov, concept], stage.DEMO_EXPECTED)
    with pytest.raises(VerdictFailed) as exc:
        m.raise_for_verdicts([clean, cov, concept])
    assert exc.value.exit_code == 8
    assert "covariate_drift" in str(exc.value) and "concept_drift" in str(exc.value)
    m.raise_for_verdicts([clean])
    with pytest.raises(VerdictFailed, match="expected pass"):
        m.check_expected([cov], {"covariate_drift": m.PASS})


def test_baseline_defaults_to_accuracy_on_the_reference(cancer):
    ref, model = cancer
    v = m.check_batch(ref, stage.demo_batches(ref, seed=1)["clean"], model=model)
    assert v.baseline == pytest.approx(
        float(np.mean(model.predict(ref[m.feature_columns(ref, "target")]) == ref["target"]))
    )
    assert v.alpha == 0.025  # labels present: alpha split between drift and performance


def test_bad_batches_get_a_named_data_quality_verdict(cancer):
    ref, model = cancer
    bad = stage.demo_batches(ref, seed=2)["clean"].drop(columns=["mean_radius"])
    bad["mean_texture"] = bad["mean_texture"].map(lambda x: f"{x:.2f}")
    bad["worst_area"] = np.nan
    bad["surprise"] = 1
    v = m.check_batch(ref, bad, model=model, name="bad")
    assert v.status == m.FAIL and v.kind == "data quality"
    for name in ("mean_radius", "mean_texture", "worst_area", "surprise"):
        assert name in v.summary
    assert v.quality["missing_columns"] == ["mean_radius"]
    assert list(v.quality["dtype_changed"]) == ["mean_texture"]
    assert v.quality["all_null_columns"] == ["worst_area"]
    tested = set(v.drift["column"])
    assert not tested & {"mean_radius", "mean_texture", "worst_area", "surprise"}


def test_extra_columns_warn_by_default_and_fail_when_asked(cancer):
    ref, _ = cancer
    batch = stage.demo_batches(ref, seed=3)["clean"].assign(surprise=1)
    assert m.check_batch(ref, batch).status == m.WARN
    strict = m.MonitorConfig(fail_on_extra_columns=True)
    v = m.check_batch(ref, batch, strict)
    assert v.status == m.FAIL and "surprise" in v.summary


def test_empty_batch_is_a_clear_data_error(cancer):
    ref, _ = cancer
    with pytest.raises(DataError, match="batch 'nothing' is empty") as exc:
        m.check_batch(ref, ref.iloc[:0], name="nothing")
    assert exc.value.exit_code == 4


def test_severity_threshold_turns_small_drift_into_a_warning(cancer):
    ref, _ = cancer
    cov = stage.demo_batches(ref, seed=0)["covariate_drift"]
    v = m.check_batch(ref, cov, m.MonitorConfig(drift_share_fail=0.5))
    assert v.status == m.WARN and v.drifted_columns


@pytest.mark.parametrize(
    "bad", [{"alpha": 0}, {"alpha": 1.5}, {"max_drop": -1}, {"report_rows": 5}]
)
def test_config_rejects_bad_thresholds(bad):
    with pytest.raises(ParameterError):
        m.MonitorConfig(**bad)


def test_config_from_params_ignores_other_names():
    cfg = m.MonitorConfig.from_params({"alpha": 0.01, "batch": "demo", "fail_on_alarm": True})
    assert cfg.alpha == 0.01


# -- sampling for large batches -------------------------------------------------------------


def test_sampling_error_bound_holds_even_on_sorted_data():
    """A 5,000-row sample's KS distance to the full 200,000 rows stays within the DKW bound."""
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(7)
    full = pd.DataFrame({"x": np.sort(rng.lognormal(size=200_000))})
    n, delta = 5_000, 0.001
    eps = m.sampling_error_bound(n, delta)
    assert eps == pytest.approx(math.sqrt(math.log(2000) / 10_000))
    errors = [
        ks_2samp(m.sample_rows(full, n, seed)["x"], full["x"]).statistic for seed in range(40)
    ]
    assert max(errors) <= eps
    assert ks_2samp(full["x"].head(n), full["x"]).statistic > eps  # a head() sample would fail
    assert len(m.sample_rows(full.head(10), n)) == 10


# -- history --------------------------------------------------------------------------------


def test_history_is_kept_in_the_index_and_plotted(ws, cancer):
    ref, model = cancer
    verdicts = m.check_batches(ref, stage.demo_batches(ref, seed=0), model=model)
    m.record_history(ws, "monitor-1", verdicts, created="2026-11-26T10:00:00+00:00")
    m.record_history(ws, "monitor-2", verdicts[:1], created="2026-11-26T11:00:00+00:00")
    m.record_history(ws, "monitor-2", verdicts[:2], created="2026-11-26T11:00:00+00:00")
    h = m.load_history(ws)
    assert list(h["run_id"]) == ["monitor-1"] * 3 + ["monitor-2"] * 2
    assert list(h["status"]) == ["pass", "fail", "fail", "pass", "fail"]
    assert set(h.loc[1, "top_columns"][:3]) == set(stage.demo_plan(ref, seed=0).drift_columns)
    assert h.loc[2, "metric_value"] < h.loc[2, "baseline"]
    assert len(m.load_history(ws, limit=2)) == 2
    fig = m.plot_history(h)
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 5
    fig.savefig(ws.root / "history.png")
    assert (ws.root / "history.png").stat().st_size > 1000


def test_history_of_a_fresh_workspace_is_empty(ws):
    assert m.load_history(ws).empty
    assert len(m.plot_history(m.load_history(ws)).axes) == 2


# -- the Evidently report path (real Evidently) ---------------------------------------------


def test_evidently_report_agrees_with_the_verdict(cancer):
    ref, model = cancer
    cov = stage.demo_batches(ref, seed=0)["covariate_drift"]
    cfg = m.MonitorConfig(min_effect=0.0)
    v = m.check_batch(ref, cov, cfg, model=model)
    snap = m.drift_report(ref, cov, v, cfg, model=model)
    d = snap.dict()
    evid = {
        x["config"]["column"]: x["value"]
        for x in d["metrics"]
        if x["config"]["type"].endswith("ValueDrift")
    }
    table = v.drift.set_index("column")
    assert set(evid) == set(table.index)
    for col, p in evid.items():
        assert p == pytest.approx(table.loc[col, "p_value"], rel=1e-6, abs=1e-12), col
    failed = {
        t["name"].removeprefix("Value Drift for column ")
        for t in d["tests"]
        if t["name"].startswith("Value Drift") and str(t["status"]).endswith("FAIL")
    }
    assert failed == set(table.index[table["drifted"]])


def test_skipping_the_unshown_column_plots_leaves_the_page_as_it_was(cancer, monkeypatch):
    import contextlib

    from nbtrail.practices import reports
    from nbtrail.practices.monitoring import report as report_mod

    ref, model = cancer
    cov = stage.demo_batches(ref, seed=0)["covariate_drift"]
    cfg = m.MonitorConfig()
    v = m.check_batch(ref, cov, cfg, model=model)
    skipped = reports.render_html(m.drift_report(ref, cov, v, cfg, model=model), "e.js", "f")
    monkeypatch.setattr(report_mod, "without_unshown_column_plots", contextlib.nullcontext)
    drawn = reports.render_html(m.drift_report(ref, cov, v, cfg, model=model), "e.js", "f")
    assert skipped == drawn
    from evidently.metrics.column_statistics import ValueDriftCalculation

    assert ValueDriftCalculation._render is not report_mod._no_widgets  # restored


def test_batch_sources_accept_datasets_files_and_folders(tmp_path, cancer):
    ref, _ = cancer
    folder = tmp_path / "incoming"
    folder.mkdir()
    ref.head(20).to_csv(folder / "2026-11-01.csv", index=False)
    ref.head(20).to_parquet(folder / "2026-11-02.parquet")
    (folder / "notes.txt").write_text("not a batch")
    got = m.batch_sources("incoming, prod@3", tmp_path)
    assert [(n, k) for n, k, _ in got] == [
        ("2026-11-01", "file"),
        ("2026-11-02", "file"),
        ("prod@3", "dataset"),
    ]
    frame = m.read_batch_file(got[0][2])
    assert list(frame.columns) == list(ref.columns) and len(frame) == 20
    with pytest.raises(DataError, match="does not exist"):
        m.batch_sources("missing.csv", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .csv or .parquet"):
        m.batch_sources("empty", tmp_path)
    (tmp_path / "broken.parquet").write_text("nope")
    with pytest.raises(DataError, match="cannot read batch"):
        m.read_batch_file(tmp_path / "broken.parquet")


def test_history_formats_as_text_lines(ws, cancer):
    ref, model = cancer
    assert m.format_history(m.load_history(ws)) == "no monitoring history yet"
    m.record_history(ws, "monitor-9", m.check_batches(ref, stage.demo_batches(ref), model=model))
    lines = m.format_history(m.load_history(ws)).splitlines()
    assert len(lines) == 4 and "covariate_drift" in lines[2] and "fail" in lines[2]


def test_unlabelled_batches_skip_performance_and_keep_the_full_alpha(cancer):
    ref, model = cancer
    concept = stage.demo_batches(ref, seed=0)["concept_drift"]
    v = m.check_batch(ref, concept.drop(columns=["target"]), model=model)
    assert [c.name for c in v.checks] == ["data_quality", "data_drift", "prediction_drift"]
    assert v.alpha == 0.05 and v.status == m.PASS  # concept drift is invisible without labels
    partly = concept.copy()
    partly.loc[partly.index[::2], "target"] = np.nan
    v = m.check_batch(ref, partly, model=model)
    assert v.kind == "concept drift" and "n=100" in v.checks[-1].detail


def _drop_index(ws) -> None:
    for suffix in ("", "-wal", "-shm"):
        ws.index_path.with_name(ws.index_path.name + suffix).unlink(missing_ok=True)


def test_history_survives_deleting_the_index_and_index_rebuild(ws, cancer, capsys):
    from nbtrail import cli

    ref, model = cancer
    verdicts = m.check_batches(ref, stage.demo_batches(ref, seed=0), model=model)
    m.record_history(ws, "monitor-1", verdicts, created="2026-11-26T10:00:00+00:00")
    m.record_history(ws, "monitor-2", verdicts[:1], created="2026-11-26T11:00:00+00:00")
    m.record_history(ws, "monitor-2", verdicts[:2], created="2026-11-26T11:00:00+00:00")
    before = m.load_history(ws)
    assert len(before) == 5 and ws.monitoring_log.is_file()

    _drop_index(ws)  # a read rebuilds the table from the log
    pd.testing.assert_frame_equal(m.load_history(ws), before)
    _drop_index(ws)
    assert cli.main(["-C", str(ws.root), "index", "rebuild"]) == 0
    assert "3 monitoring record(s)" in capsys.readouterr().out
    pd.testing.assert_frame_equal(m.load_history(ws), before)
    assert m.format_history(m.load_history(ws)) == m.format_history(before)

    with open(ws.monitoring_log, "ab") as f:
        f.write(b'{"run_id":"monitor-3","rows":[{"ba')  # torn by a crash
    pd.testing.assert_frame_equal(m.load_history(ws), before)
    _drop_index(ws)
    pd.testing.assert_frame_equal(m.load_history(ws), before)
    m.record_history(ws, "monitor-3", verdicts[:1], created="2026-11-26T12:00:00+00:00")
    _drop_index(ws)
    after = m.load_history(ws)
    assert list(after["run_id"]) == ["monitor-1"] * 3 + ["monitor-2"] * 2 + ["monitor-3"]


_WRITER = """
import sys
from pathlib import Path
import pandas as pd
from nbtrail.core.workspace import Workspace
from nbtrail.practices import monitoring as m
ws, tag = Workspace(Path(sys.argv[1])), sys.argv[2]
v = m.Verdict(batch="b", rows=10, status="pass", kind=None, summary="ok", checks=[],
              drift=pd.DataFrame(), drift_share=0.0, drifted_columns=[])
for i in range(10):
    m.record_history(ws, f"{tag}-{i}", [v], created=f"2026-11-26T10:00:{i:02d}+00:00")
"""


def test_concurrent_appends_from_two_processes_lose_nothing(ws):
    import subprocess
    import sys

    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(ws.root), tag]) for tag in "ab"]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert len(ws.monitoring_log.read_text().splitlines()) == 20
    h = m.load_history(ws)
    assert sorted(h["run_id"]) == sorted(f"{t}-{i}" for t in "ab" for i in range(10))
    _drop_index(ws)
    pd.testing.assert_frame_equal(m.load_history(ws), h)


# -- demo batches chosen from the data, on other datasets -----------------------------------


def _fit(frame: pd.DataFrame, target: str, model: str):
    from nbtrail.practices.training import build_pipeline

    feats = [c for c in frame.columns if c != target]
    pipe = build_pipeline(frame[feats], model=model, task="classification", seed=0, hyper={})
    return pipe.fit(frame[feats], frame[target]), feats


def _demo_verdicts(ref: pd.DataFrame, model, target: str, features, seed: int):
    plan = stage.demo_plan(ref, target=target, features=features, seed=seed)
    batches = stage.demo_batches(ref, plan, target=target, features=features)
    verdicts = m.check_batches(ref, batches, target=target, model=model, features=features)
    return plan, verdicts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_demo_batches_get_their_expected_verdicts_on_binary_wine(seed):
    """Another dataset, the train stage's default model: the expected verdicts hold."""
    from sklearn.datasets import load_wine

    df = load_wine(as_frame=True).frame
    df = df[df["target"] != 2].reset_index(drop=True)  # classes 0 and 1
    split = np.random.default_rng(seed).choice(["train", "reference"], size=len(df), p=(0.6, 0.4))
    model, feats = _fit(df[split == "train"], "target", "hist_gradient_boosting")
    ref = df[split == "reference"].reset_index(drop=True)
    plan, (clean, cov, concept) = _demo_verdicts(ref, model, "target", feats, seed)
    assert plan.drift_columns == ("alcohol", "malic_acid", "ash")
    corr = ref[feats].corrwith(ref["target"]).abs()
    assert plan.segment_column == corr.idxmax()
    m.check_expected([clean, cov, concept], stage.DEMO_EXPECTED)
    assert clean.status != m.FAIL, clean.summary
    assert cov.status == m.FAIL and set(plan.drift_columns) <= set(cov.drifted_columns)
    assert concept.status == m.FAIL and concept.kind == "concept drift", concept.summary


def test_demo_plan_skips_constant_and_categorical_columns_of_a_made_up_frame():
    rng = np.random.default_rng(4)
    n = 1200
    x = {c: rng.normal(size=n) for c in "abcd"}
    frame = pd.DataFrame(
        {
            "const": 1.0,
            "colour": rng.choice(["red", "green"], size=n),
            "flag": rng.random(n) < 0.5,
            **x,
            "label": (x["d"] + 0.3 * rng.normal(size=n) > 0).astype(int),
        }
    )
    train, ref = frame.iloc[:800], frame.iloc[800:].reset_index(drop=True)
    model, feats = _fit(train, "label", "logistic_regression")
    plan, verdicts = _demo_verdicts(ref, model, "label", feats, seed=0)
    assert plan.drift_columns == ("a", "b", "c")  # const does not vary; colour, flag: not numeric
    assert plan.segment_column == "d"  # the label follows d
    assert plan.segment_median == pytest.approx(float(ref["d"].median()))
    assert plan.to_dict()["drift_columns"] == ["a", "b", "c"]
    assert "a, b, c" in plan.describe() and "d >" in plan.describe()
    assert [v.status != m.FAIL for v in verdicts] == [True, False, False]
    m.check_expected(verdicts, stage.DEMO_EXPECTED)
    clean, cov, concept = verdicts
    assert set(cov.drifted_columns) == {"a", "b", "c"} and concept.kind == "concept drift"
    assert stage.demo_plan(ref, target="label", features=feats, n_drift=1).drift_columns == ("a",)
    with pytest.raises(DataError, match="numeric column that varies"):
        stage.demo_plan(ref[["const", "colour", "label"]], target="label")


def test_demo_concept_drift_flips_labels_to_the_other_class_even_in_a_one_class_segment():
    ref = pd.DataFrame({"x": np.arange(40.0), "y": ["no"] * 20 + ["yes"] * 20})
    plan = stage.demo_plan(ref, target="y", seed=0)  # no numeric label: the first column
    assert plan.segment_column == "x" and plan.segment_median == 19.5
    concept = stage.demo_batches(ref, plan, target="y")["concept_drift"]
    segment = concept["x"] > 19.5
    assert set(concept.loc[segment, "y"]) == {"no"} and set(concept.loc[~segment, "y"]) == {"no"}


@pytest.mark.parametrize("seed", [0, 1])
def test_the_clean_demo_batch_stays_clean_with_counts_and_missing_values(seed):
    """Jitter is for continuous columns: a count (few whole values) or a column with missing
    values left as it is, so the clean batch is not flagged as drifted (it was, on churn)."""
    rng = np.random.default_rng(seed)
    n = 1500
    df = pd.DataFrame(
        {
            "calls": rng.poisson(1.5, n).astype(float),
            "tenure": rng.integers(1, 72, n),
            "charge": rng.normal(70, 25, n),
        }
    )
    df.loc[rng.random(n) < 0.05, "calls"] = np.nan
    logit = 0.5 * df["calls"].fillna(1) - 0.03 * df["tenure"] + 0.02 * (df["charge"] - 70)
    df["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    train, ref = df.iloc[:900], df.iloc[900:].reset_index(drop=True)
    model, feats = _fit(train, "target", "hist_gradient_boosting")
    plan, (clean, cov, concept) = _demo_verdicts(ref, model, "target", feats, seed)
    assert clean.status != m.FAIL, clean.summary
    assert cov.status == m.FAIL and concept.status == m.FAIL


def test_one_drifted_column_is_one_column_in_the_summary(cancer):
    ref, _ = cancer
    batch = stage.demo_batches(ref, seed=4)["clean"].copy()
    batch["mean_radius"] = batch["mean_radius"] * 1.5
    v = m.check_batch(ref, batch)
    assert v.drifted_columns == ["mean_radius"], v.summary
    assert "data drift in 1 column (" in v.summary, v.summary
