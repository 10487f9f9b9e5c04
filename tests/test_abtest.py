"""Champion versus challenger: statistics against scipy and textbook values, A/A and power
simulations (vectorised), sticky assignment, the decision rule and bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices import abtest as ab
from nbtrail.practices import evaluation as ev
from nbtrail.stages import champion

ALPHA = 0.05
# Monte Carlo tolerances, stated: with N simulated experiments the standard error of a rate
# r is sqrt(r (1 - r) / N). A/A: N = 4000, SE(0.05) = 0.0034; we allow alpha + 0.015
# (4.4 SE) to cover Monte Carlo error and the normal approximation of the binomial z test.
AA_SIMS, AA_TOL = 4000, 0.015
# Power: N = 3000, SE(0.8) = 0.0073; we allow power - 0.03 (4 SE).
POWER_SIMS, POWER_TOL = 3000, 0.03


# --------------------------------------------------------------------------- McNemar


def _paired(b: int, c: int, both: int = 50, neither: int = 10):
    """Correctness arrays with b champion-only and c challenger-only correct rows."""
    champ = np.r_[np.ones(b), np.zeros(c), np.ones(both), np.zeros(neither)].astype(bool)
    chall = np.r_[np.zeros(b), np.ones(c), np.ones(both), np.zeros(neither)].astype(bool)
    return champ, chall


def test_mcnemar_exact_with_few_discordant_pairs():
    r = ab.mcnemar_test(*_paired(b=3, c=12))
    assert r["method"] == "exact binomial"
    assert r["p_value"] == pytest.approx(stats.binomtest(12, 15, 0.5).pvalue)
    assert r["p_value"] == pytest.approx(0.03515625)  # 2 * P(X <= 3), X ~ Bin(15, 1/2)
    assert r["champion_only_correct"] == 3 and r["challenger_only_correct"] == 12
    assert r["accuracy_difference"] == pytest.approx(9 / 75)
    assert r["odds_ratio"] == pytest.approx(4.0)


def test_mcnemar_chi_square_with_continuity_correction():
    r = ab.mcnemar_test(*_paired(b=30, c=50))
    assert r["method"] == "chi-square with continuity correction"
    assert r["statistic"] == pytest.approx((abs(30 - 50) - 1) ** 2 / 80)
    assert r["p_value"] == pytest.approx(stats.chi2.sf(361 / 80, df=1))
    lo, hi = r["odds_ratio_ci"]
    assert lo < 50 / 30 < hi


def test_mcnemar_without_discordant_pairs():
    r = ab.mcnemar_test(*_paired(b=0, c=0))
    assert r["p_value"] == 1.0 and r["method"].startswith("none")
    json.dumps(r)


# --------------------------------------------------------------------------- Holm, bootstrap


def test_holm_against_hand_computed_values():
    adj = ab.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.005})
    # sorted 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone max 0.06
    assert adj == pytest.approx({"a": 0.03, "b": 0.06, "c": 0.06, "d": 0.02})
    assert ab.holm({"x": 0.6, "y": 0.7}) == pytest.approx({"x": 1.0, "y": 1.0})


def _scores(n: int, seed: int, signal_a: float, signal_b: float):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    noise = rng.random(n)
    a = np.clip(signal_a * y + (1 - signal_a) * noise, 0, 1)
    b = np.clip(signal_b * y + (1 - signal_b) * rng.random(n), 0, 1)
    return y, a, b


def test_paired_bootstrap_differences_match_sklearn_and_the_normal_approximation():
    y, a, b = _scores(500, seed=1, signal_a=0.3, signal_b=0.45)
    res = ab.paired_bootstrap(y, a, b, n_boot=3000, seed=2)
    auc = res["roc_auc"]
    assert auc["difference"] == pytest.approx(skm.roc_auc_score(y, b) - skm.roc_auc_score(y, a))
    assert auc["ci"][0] < auc["difference"] < auc["ci"][1]
    # Accuracy difference: the paired variance is ((b + c) / n - d^2) / n.
    ca, cb = (a >= 0.5) == y, (b >= 0.5) == y
    n = len(y)
    d = cb.mean() - ca.mean()
    se = math.sqrt(((ca != cb).mean() - d**2) / n)
    acc = res["accuracy"]
    assert acc["difference"] == pytest.approx(d)
    assert acc["se"] == pytest.approx(se, rel=0.08)
    assert acc["ci"][0] == pytest.approx(d - 1.96 * se, abs=0.01)
    # log loss is lower-is-better: the improvement is the negated difference.
    ll = res["log_loss"]
    assert ll["improvement"] == pytest.approx(-ll["difference"])
    json.dumps(res)


def test_compare_offline_passes_every_bootstrap_setting_on():
    y, a, b = _scores(300, seed=4, signal_a=0.3, signal_b=0.4)
    res = ab.compare_offline(
        y, a, b, metrics=["roc_auc", "calibration_error"], n_bins=5, n_boot=400, seed=1
    )
    cal = res["metrics"]["calibration_error"]
    assert cal["champion"] == pytest.approx(ev.expected_calibration_error(y, a, n_bins=5))
    assert res["metrics"] == {
        m: {**row, "p_adjusted": res["metrics"][m]["p_adjusted"]}
        for m, row in ab.paired_bootstrap(
            y, a, b, metrics=["roc_auc", "calibration_error"], n_bins=5, n_boot=400, seed=1
        ).items()
    }
    with pytest.raises(DataError, match="min_class_rows=200"):
        ab.compare_offline(y, a, b, n_boot=400, min_class_rows=200)


def test_identical_models_give_no_difference():
    y, a, _ = _scores(200, seed=3, signal_a=0.4, signal_b=0.4)
    res = ab.compare_offline(y, a, a.copy(), n_boot=500)
    assert all(m["difference"] == 0 and m["p_adjusted"] == 1.0 for m in res["metrics"].values())
    assert res["decision"] == "inconclusive"
    assert "no significant difference" in res["reason"]


def test_holm_is_applied_across_metrics_and_accuracy_uses_mcnemar():
    y, a, b = _scores(400, seed=4, signal_a=0.3, signal_b=0.5)
    res = ab.compare_offline(y, a, b, n_boot=1000)
    raw = {m: r["p_value"] for m, r in res["metrics"].items()}
    assert {m: r["p_adjusted"] for m, r in res["metrics"].items()} == pytest.approx(ab.holm(raw))
    assert res["metrics"]["accuracy"]["p_value"] == res["mcnemar"]["p_value"]
    assert res["correction"] == "holm"


# --------------------------------------------------------------------------- decisions


def test_clearly_better_challenger_is_promoted():
    y, a, b = _scores(400, seed=5, signal_a=0.3, signal_b=0.55)
    res = ab.compare_offline(y, a, b, metrics=["roc_auc", "accuracy", "f1"], n_boot=1000)
    assert res["decision"] == "promote", res["reason"]
    assert "significantly better on roc_auc" in res["reason"]


def test_weakened_challenger_is_not_promoted_and_the_reason_says_why():
    # A deliberately weakened challenger: logistic regression on 2 of the 6 informative
    # features, against the champion on all 6.
    rng = np.random.default_rng(6)
    X = rng.normal(size=(1200, 6))
    y = X @ np.array([1.5, -1.0, 1.0, 0.8, -0.7, 0.6]) + rng.logistic(size=1200) > 0
    y = y.astype(int)
    champ = LogisticRegression().fit(X[:600], y[:600])
    weak = LogisticRegression().fit(X[:600, :2], y[:600])
    sa = champ.predict_proba(X[600:])[:, 1]
    sb = weak.predict_proba(X[600:, :2])[:, 1]
    res = ab.compare_offline(
        y[600:], sa, sb, metrics=["roc_auc", "accuracy", "log_loss"], n_boot=1000
    )
    assert res["decision"] == "keep_champion"
    assert "significantly worse on" in res["reason"] and "Holm-adjusted p" in res["reason"]
    assert res["metrics"]["roc_auc"]["ci"][1] < 0


def test_decision_rule_branches():
    row = {
        "difference": 0.01,
        "ci": [0.001, 0.02],
        "improvement": 0.01,
        "improvement_ci": [0.001, 0.02],
        "p_adjusted": 0.01,
    }
    assert ab.decide({"roc_auc": row}, primary="roc_auc")["decision"] == "promote"
    # Significant but below the practical minimum, and the CI rules the minimum out.
    d = ab.decide({"roc_auc": row}, primary="roc_auc", min_improvement=0.05)
    assert d["decision"] == "keep_champion" and "ruled out" in d["reason"]
    d = ab.decide({"roc_auc": row}, primary="roc_auc", min_improvement=0.015)
    assert d["decision"] == "inconclusive" and "below min_improvement" in d["reason"]
    d = ab.decide({"roc_auc": row}, primary="roc_auc", challenger_gates_passed=False)
    assert d["decision"] == "keep_champion" and "gates" in d["reason"]
    worse = {
        "difference": 0.02,
        "ci": [0.01, 0.03],
        "improvement": -0.02,
        "improvement_ci": [-0.03, -0.01],
        "p_adjusted": 0.001,
    }
    both = {"roc_auc": row, "log_loss": worse}
    assert ab.decide(both, primary="roc_auc")["decision"] == "keep_champion"
    allowed = ab.decide(both, primary="roc_auc", max_degradation={"log_loss": 0.05})
    assert allowed["decision"] == "promote"
    with pytest.raises(ParameterError, match="primary"):
        ab.decide(both, primary="f1")
    assert ab.no_champion_decision(True)["decision"] == "promote"
    assert "becomes the champion" in ab.no_champion_decision(True)["reason"]
    assert ab.no_champion_decision(False)["decision"] == "keep_champion"


def test_comparison_table_and_plot():
    import matplotlib

    matplotlib.use("Agg")
    y, a, b = _scores(300, seed=7, signal_a=0.3, signal_b=0.4)
    res = ab.compare_offline(y, a, b, n_boot=500)
    table = ab.comparison_table(res)
    assert list(table.index) == list(res["metrics"])
    assert {"ci_low", "ci_high", "p_holm"} <= set(table.columns)
    ax = ab.effect_plot(res)
    assert res["decision"] in ax.get_title()
    import matplotlib.pyplot as plt

    plt.close("all")


# --------------------------------------------------------------------------- schemas


def test_schema_mismatch_names_the_difference():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 3)), columns=["a", "b", "c"])
    y = (X["a"] > 0).astype(int)
    m1 = LogisticRegression().fit(X, y)
    m2 = LogisticRegression().fit(X[["a", "b"]].assign(d=X["c"]), y)
    ab.check_same_schema(ab.model_input_schema(m1), ab.model_input_schema(m1))
    with pytest.raises(
        DataError,
        match=r"only the champion takes 'c'.*only the challenger "
        r"takes 'd'",
    ) as err:
        ab.check_same_schema(ab.model_input_schema(m1), ab.model_input_schema(m2))
    assert err.value.facts["only_champion"] == ["c"]
    with pytest.raises(DataError, match="different order"):
        ab.check_same_schema(["a", "b"], ["b", "a"])
    with pytest.raises(DataError, match="3 columns, the challenger 2"):
        ab.check_same_schema(3, ["a", "b"])


def test_paired_comparison_needs_the_same_rows():
    y, a, b = _scores(100, seed=0, signal_a=0.3, signal_b=0.3)
    with pytest.raises(DataError, match="same rows"):
        ab.compare_offline(y, a, b[:-1])
    with pytest.raises(DataError, match="too few"):
        ab.compare_offline(y[:20], a[:20], b[:20])


# --------------------------------------------------------------------------- assignment


def test_assignment_is_sticky_and_matches_the_split():
    ids = [f"user-{i}" for i in range(100_000)]
    arms = ab.assign_arms(ids, salt="exp-42", split=0.3)
    # Same id -> same arm: again, in another order, and one at a time.
    again = ab.assign_arms(ids[::-1], salt="exp-42", split=0.3)[::-1]
    assert (arms == again).all()
    for i in (0, 17, 99_999):
        assert ab.assign_arms([ids[i]], salt="exp-42", split=0.3)[0] == arms[i]
    # Observed split within 0.006 of 0.3 (SE = sqrt(0.21 / 1e5) = 0.0014; 4 SE).
    assert abs((arms == "challenger").mean() - 0.3) < 0.006
    # Another salt reshuffles: about half of the ids change arm under a 50/50 split.
    a = ab.assign_arms(ids[:20_000], salt="exp-1", split=0.5)
    b = ab.assign_arms(ids[:20_000], salt="exp-2", split=0.5)
    assert abs((a != b).mean() - 0.5) < 0.02
    # Uniform over buckets: chi-square goodness of fit on 20 equal buckets of the hash.
    u = np.array([ab._unit("exp-42", i) for i in ids[:20_000]])
    counts = np.bincount((u * 20).astype(int), minlength=20)
    assert stats.chisquare(counts).pvalue > 0.001


def test_assignment_bad_input():
    with pytest.raises(ParameterError, match="split"):
        ab.assign_arms(["a"], salt="s", split=1.0)
    with pytest.raises(ParameterError, match="salt"):
        ab.assign_arms(["a"], salt="", split=0.5)


# --------------------------------------------------------------------------- planning


def test_sample_size_against_the_textbook_value_and_the_power_formula():
    # Fleiss (no continuity correction), p1 = 0.10, p2 = 0.15, alpha 0.05, power 0.8: 686.
    n = ab.sample_size_two_proportions(0.10, 0.15, alpha=0.05, power=0.8)
    assert n == {"control": 686, "treatment": 686}
    za, zb = stats.norm.isf(0.025), stats.norm.ppf(0.8)
    pbar = 0.125
    direct = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(0.09 + 0.1275)) ** 2 / 0.0025
    assert n["control"] == math.ceil(direct)
    assert ab.power_two_proportions(0.10, 0.15, 686) >= 0.8
    assert ab.power_two_proportions(0.10, 0.15, 685) < 0.8
    uneven = ab.sample_size_two_proportions(0.10, 0.15, ratio=0.5)
    assert uneven["control"] > 686 and uneven["treatment"] < 686
    with pytest.raises(ParameterError, match="no effect"):
        ab.sample_size_two_proportions(0.1, 0.1)


def test_pocock_and_obrien_fleming_boundaries():
    # Lan-DeMets Pocock-type spending, 5 equal looks, two-sided 0.05 (published values,
    # e.g. Jennison & Turnbull; gsDesign sfLDPocock): 2.438 2.427 2.410 2.397 2.386.
    poc = ab.group_sequential_design(5, spending_function="pocock")
    assert poc["z_bounds"] == pytest.approx([2.438, 2.427, 2.410, 2.397, 2.386], abs=2e-3)
    obf = ab.group_sequential_design(5)
    # The first look spends alpha(0.2) = 2 - 2 Phi(1.96 / sqrt(0.2)): its bound is closed form.
    assert obf["z_bounds"][0] == pytest.approx(stats.norm.isf(0.025) / math.sqrt(0.2))
    assert sum(obf["alpha_spent"]) == pytest.approx(ALPHA)
    assert obf["z_bounds"] == sorted(obf["z_bounds"], reverse=True)
    assert 1.0 < obf["inflation"] < 1.1
    # Many looks: the first ones spend ~1e-18 of alpha; the design must still come out.
    many = ab.group_sequential_design(20)
    assert many["z_bounds"][0] == pytest.approx(stats.norm.isf(0.025) / math.sqrt(0.05))
    assert sum(many["alpha_spent"]) == pytest.approx(ALPHA)
    assert many["z_bounds"] == sorted(many["z_bounds"], reverse=True)
    one = ab.group_sequential_design(1)
    assert one["z_bounds"][0] == pytest.approx(1.959964, abs=1e-5)
    assert one["inflation"] == pytest.approx(1.0, abs=1e-4)
    json.dumps(obf)


def test_boundaries_hold_alpha_and_power_for_gaussian_paths():
    # Exact-model check of the numerical integration: Brownian paths with and without drift.
    design = ab.group_sequential_design([0.25, 0.5, 0.8, 1.0], alpha=ALPHA, power=0.8)
    fr, bounds = np.array(design["fractions"]), np.array(design["z_bounds"])
    rng = np.random.default_rng(0)
    inc = rng.normal(size=(200_000, len(fr))) * np.sqrt(np.diff(np.r_[0, fr]))
    s = inc.cumsum(axis=1)
    rejected = (np.abs(s / np.sqrt(fr)) >= bounds).any(axis=1).mean()
    assert rejected == pytest.approx(ALPHA, abs=0.002)  # SE 0.0005
    drift = (stats.norm.isf(ALPHA / 2) + stats.norm.ppf(0.8)) * math.sqrt(design["inflation"])
    power = (np.abs((s + drift * fr) / np.sqrt(fr)) >= bounds).any(axis=1).mean()
    assert power == pytest.approx(0.8, abs=0.004)  # SE 0.0009


@pytest.mark.parametrize(("p0", "split"), [(0.10, 0.5), (0.30, 0.3)])
def test_aa_false_positive_rate_with_repeated_looks(p0, split):
    plan = ab.plan_experiment(p0, 0.05, alpha=ALPHA, power=0.8, split=split, looks=5)
    n = plan["max_n"]
    sim = ab.simulate_sequential(
        p0, p0, n["control"], n["treatment"], plan["design"], n_sims=AA_SIMS, seed=11
    )
    assert sim["rejection_rate"] <= ALPHA + AA_TOL, sim
    # The same data tested naively at every look with 1.96 inflates the error: the
    # sequential boundaries are what keeps it at alpha.
    naive = ab.simulate_sequential(
        p0, p0, n["control"], n["treatment"], [1.959964] * 5, n_sims=AA_SIMS, seed=11
    )
    assert naive["rejection_rate"] > ALPHA + 0.04, naive


def test_ab_power_at_the_planned_sample_size():
    plan = ab.plan_experiment(0.10, 0.05, alpha=ALPHA, power=0.8, looks=5)
    n = plan["max_n"]
    assert n["control"] > plan["fixed_n"]["control"]  # the sequential design costs a little
    sim = ab.simulate_sequential(
        0.10, 0.15, n["control"], n["treatment"], plan["design"], n_sims=POWER_SIMS, seed=12
    )
    assert sim["rejection_rate_treatment_better"] >= 0.8 - POWER_TOL, sim
    assert sim["expected_n"] < n["control"] + n["treatment"]  # early stopping saves traffic
    # Half the planned sample is clearly underpowered: the test can fail.
    half = ab.simulate_sequential(
        0.10,
        0.15,
        n["control"] // 2,
        n["treatment"] // 2,
        plan["design"],
        n_sims=POWER_SIMS,
        seed=13,
    )
    assert half["rejection_rate"] < 0.8 - POWER_TOL


def test_online_experiment_decides_and_records():
    plan = ab.plan_experiment(0.30, 0.10, split=0.5, looks=4)
    ids = [f"user-{i:06d}" for i in range(plan["total_max_n"])]
    res = ab.run_online_experiment(
        ids,
        salt="exp-7",
        split=0.5,
        p_control=0.30,
        p_treatment=0.45,
        design=plan["design"],
        seed=3,
    )
    assert res["decision"] == "promote" and res["stopped_at_look"] is not None
    last = res["looks"][-1]
    assert last["crossed"] and last["rci"][0] > 0
    assert res == ab.run_online_experiment(
        ids,
        salt="exp-7",
        split=0.5,
        p_control=0.30,
        p_treatment=0.45,
        design=plan["design"],
        seed=3,
    )
    json.dumps(res)
    assert list(ab.looks_table(res).columns)[:2] == ["fraction", "n_champion"]
    null = ab.run_online_experiment(
        ids,
        salt="exp-7",
        split=0.5,
        p_control=0.30,
        p_treatment=0.30,
        design=plan["design"],
        seed=4,
    )
    assert null["decision"] in ("inconclusive", "promote", "keep_champion")
    assert len(null["looks"]) == (
        4 if null["decision"] == "inconclusive" else null["stopped_at_look"]
    )
    with pytest.raises(DataError, match="unique"):
        ab.run_online_experiment(
            ["a", "a"] + ids,
            salt="s",
            split=0.5,
            p_control=0.3,
            p_treatment=0.4,
            design=plan["design"],
        )


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"looks": [0.5, 0.4, 1.0]}, "looks"),
        ({"looks": 0}, "looks"),
        ({"spending_function": "haybittle"}, "spending"),
        ({"alpha": 1.5}, "alpha"),
        ({"split": 0.0}, "split"),
    ],
)
def test_bad_plan_parameters(kwargs, parameter):
    with pytest.raises(ParameterError) as err:
        ab.plan_experiment(0.1, 0.05, **kwargs)
    assert err.value.parameter == parameter


def test_bootstrap_p_value_agrees_with_the_interval():
    # The percentile p-value is below 1 - level exactly when the interval excludes 0.
    checked = 0
    for seed in range(12):
        y, a, b = _scores(150, seed=seed, signal_a=0.3, signal_b=0.3 + 0.02 * seed)
        for row in ab.paired_bootstrap(y, a, b, n_boot=999, seed=seed).values():
            if row["se"] == 0:
                continue
            excludes = row["ci"][0] > 0 or row["ci"][1] < 0
            assert (row["p_value"] < 0.05) == excludes, row
            checked += 1
    assert checked >= 50


def test_failed_gates_keep_the_champion_and_say_what_the_statistics_say():
    y, a, b = _scores(400, seed=5, signal_a=0.3, signal_b=0.55)
    res = ab.compare_offline(
        y, a, b, metrics=["roc_auc", "accuracy"], n_boot=500, challenger_gates_passed=False
    )
    assert res["decision"] == "keep_champion"
    assert res["reason"].startswith("the challenger failed its evaluation gates")
    assert "comparison alone says promote" in res["reason"]


def test_effect_plot_when_nothing_is_significant():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y, a, _ = _scores(200, seed=8, signal_a=0.4, signal_b=0.4)
    res = ab.compare_offline(y, a, a.copy(), n_boot=300)
    ax = ab.effect_plot(res)
    assert len(ax.collections) >= 1 and "inconclusive" in ax.get_title()
    plt.close("all")


def test_effect_plot_draws_an_interval_that_leaves_out_its_point():
    """A percentile interval may exclude the point estimate (a sweep member's evaluate stage
    failed on one: matplotlib's errorbar refused the negative error)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    res = {
        "decision": "inconclusive",
        "alpha": 0.05,
        "metrics": {
            "roc_auc": {"improvement": 0.01, "improvement_ci": (0.012, 0.03), "p_adjusted": 0.2}
        },
    }
    ax = ab.effect_plot(res)
    segments = ax.collections[0].get_segments()
    assert [tuple(p) for p in segments[0]] == [(0.012, 0.0), (0.03, 0.0)]
    plt.close("all")


def _saved_model(ws, name: str, X: pd.DataFrame, y: np.ndarray):
    from nbtrail.core.hashing import hash_file
    from nbtrail.practices.models import save_model

    model = LogisticRegression().fit(X, y)
    path = ws.root / "models" / f"{name}.skops"
    path.parent.mkdir(exist_ok=True)
    save_model(model, path)
    return model, path, hash_file(path)


def test_registry_first_champion_then_challenger(ws):
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    y = (X["a"] + 0.5 * rng.normal(size=200) > 0).astype(int).to_numpy()
    assert champion.find_champion(ws, "m") is None
    first, p1, d1 = _saved_model(ws, "first", X, y)
    decision = ab.no_champion_decision(gates_passed=True)
    out = champion.apply_decision(
        ws, "m", decision=decision, artifact_path=p1, digest=d1, run_id="r1",
        metrics={"roc_auc": 0.9}, gates_passed=True,
    )  # fmt: skip
    assert out["promoted"] and out["version"] == 1
    champ = champion.find_champion(ws, "m")
    assert champ["version"] == 1 and champ["digest"] == d1
    np.testing.assert_allclose(champ["model"].predict_proba(X), first.predict_proba(X))
    # A challenger that failed its gates is neither registered nor promoted.
    _, p2, d2 = _saved_model(ws, "second", X[["a", "b", "c"]] * 2, y)
    out = champion.apply_decision(
        ws, "m", decision={"decision": "promote", "reason": "x"}, artifact_path=p2, digest=d2,
        run_id="r2", metrics={}, gates_passed=False,
    )  # fmt: skip
    assert not out["registered"] and champion.find_champion(ws, "m")["version"] == 1
    # One that passed and was not promoted is registered; the champion stays.
    out = champion.apply_decision(
        ws, "m", decision={"decision": "inconclusive", "reason": "x"}, artifact_path=p2,
        digest=d2, run_id="r2", metrics={}, gates_passed=True,
    )  # fmt: skip
    assert out["registered"] and not out["promoted"] and out["version"] == 2
    assert champion.find_champion(ws, "m")["version"] == 1
    # A reproduction meets the champion of its original's time, not today's.
    from nbtrail.practices import registry

    first_promotion = registry.history(ws, "m")["events"][0]["at"]
    champion.apply_decision(
        ws, "m", decision={"decision": "promote", "reason": "y"}, artifact_path=p2, digest=d2,
        run_id="r2", metrics={}, gates_passed=True,
    )  # fmt: skip
    assert champion.find_champion(ws, "m")["version"] == 2
    assert champion.find_champion(ws, "m", as_of="2000-01-01T00:00:00+00:00") is None
    held = champion.find_champion(ws, "m", as_of=first_promotion)
    assert held["version"] == 1 and held["digest"] == d1
