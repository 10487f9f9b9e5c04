"""Sweep specs checked before anything runs, and the suggesters (no notebooks, no Dask here;
the sweep on a real Dask cluster is tests/test_sweep_dask.py)."""

from __future__ import annotations

import math
import socket
import statistics
from pathlib import Path

import pytest
import yaml
from _project import make_project, nbtrail

from nbtrail.core.errors import ConfigError, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.sweep import plan_sweep
from nbtrail.practices.sweep import (
    GridSuggester,
    Range,
    format_table,
    parse_spec,
    record,
    suggester,
)

BASE = {
    "kind": "grid",
    "metric": "evaluate.roc_auc",
    "direction": "maximize",
    "space": {"train.n_estimators": [50, 100], "train.max_depth": [2, 3]},
    "budget": {"max_members": 8},
}


def spec_of(**changes):
    return parse_spec({**BASE, **changes}, name="t", where="params/sweeps/t.yaml")


def test_a_grid_multiplies_its_lists_in_the_order_written():
    spec = spec_of()
    assert spec.grid_size() == 4 and spec.metric_stage == "evaluate"
    g = GridSuggester(spec)
    got = [s.values for s in iter(g.ask, None)]
    assert got[0] == {"train.n_estimators": 50, "train.max_depth": 2}
    assert len(got) == 4 and len({tuple(v.values()) for v in got}) == 4


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"kind": "bayes"}, "kind 'bayes'"),
        ({"direction": "up"}, "direction 'up'"),
        ({"metric": None}, "metric is required"),
        ({"colour": 1}, "unknown keys ['colour']"),
        ({"space": {"n_estimators": [1]}}, "'n_estimators' must be STAGE.PARAM"),
        ({"space": {"train.C": {"low": 1, "high": 2}}}, "a grid needs a list"),
        ({"kind": "random", "space": {"train.C": {"low": 2, "high": 1}}}, "low 2 must be below"),
        ({"kind": "random", "space": {"train.C": {"low": 0, "high": 1, "log": True}}}, "low > 0"),
        ({"kind": "random", "space": {"train.C": {"low": 0, "hi": 1}}}, "unknown keys ['hi']"),
        ({"budget": {"max_members": 0}}, "max_members must be a positive integer"),
        ({"budget": {}}, "budget.max_members is required"),
        ({"params": {"train.max_depth": 4}}, "'train.max_depth' is both swept and fixed"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_key(changes, says):
    with pytest.raises(ConfigError) as err:
        spec_of(**changes)
    assert says in str(err.value) and "params/sweeps/t.yaml" in str(err.value)


def test_a_grid_larger_than_the_budget_says_how_many_members_it_would_run():
    with pytest.raises(ConfigError, match="the grid has 4 members, more than .* max_members 3"):
        spec_of(budget={"max_members": 3})


def test_random_draws_respect_type_step_and_log_and_repeat_with_the_seed():
    space = {
        "train.max_depth": {"low": 2, "high": 6, "type": "int"},
        "train.n_estimators": {"low": 50, "high": 200, "step": 50, "type": "int"},
        "train.learning_rate": {"low": 0.01, "high": 0.3, "log": True},
        "train.model": ["a", "b"],
    }
    spec = spec_of(kind="random", space=space)
    assert spec.space["train.learning_rate"] == Range(0.01, 0.3, "float", True, None)
    draws = [suggester(spec).ask() for _ in range(2)]
    assert draws[0] == draws[1]  # the same seed, the same first member
    s = suggester(spec)
    for _ in range(50):
        v = s.ask().values
        assert type(v["train.max_depth"]) is int and 2 <= v["train.max_depth"] <= 6
        assert v["train.n_estimators"] in (50, 100, 150, 200)
        assert 0.01 <= v["train.learning_rate"] <= 0.3 and v["train.model"] in ("a", "b")


def _members_to_reach(kind: str, seed: int, budget: int, within: float) -> int:
    """Members until one lies within ``within`` of the optimum (1.5, -2.0); budget+1 if none."""
    spec = spec_of(
        kind=kind,
        direction="minimize",
        space={"x.a": {"low": -10.0, "high": 10.0}, "x.b": {"low": -10.0, "high": 10.0}},
        budget={"max_members": budget},
    )
    s = suggester(spec, seed=seed)
    for n in range(1, budget + 1):
        m = s.ask()
        d = math.hypot(m.values["x.a"] - 1.5, m.values["x.b"] + 2.0)
        if d <= within:
            return n
        s.tell(m, d * d)
    return budget + 1


def test_the_adaptive_search_reaches_the_optimum_in_fewer_members_than_random():
    """Within 0.5 of the optimum of a bowl on [-10, 10]^2 (random hits that disc with
    probability ~0.002 per member), averaged over 5 seeds, 80 members at most."""
    seeds, budget, within = range(5), 80, 0.5
    tpe = [_members_to_reach("optuna", s, budget, within) for s in seeds]
    rnd = [_members_to_reach("random", s, budget, within) for s in seeds]
    assert statistics.mean(tpe) < statistics.mean(rnd), (tpe, rnd)
    assert sum(n <= budget for n in tpe) >= 4, tpe  # TPE gets there nearly every time


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("sweep") / "project")


def _write_spec(root: Path, name: str, **changes) -> Path:
    path = root / "params" / "sweeps" / f"{name}.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    return path


def test_an_unknown_parameter_or_a_wrong_type_is_refused_naming_it(project):
    ws = Workspace(project)
    bad = _write_spec(project, "bad", space={"train.n_trees": [1, 2]})
    with pytest.raises(ParameterError) as err:
        plan_sweep(ws, bad)
    text = str(err.value)
    assert "unknown parameter 'n_trees'" in text and "params/sweeps/bad.yaml" in text
    assert "n_estimators" in text  # the valid names are listed
    wrong = _write_spec(project, "wrong", space={"train.max_depth": [2, "deep"]})
    with pytest.raises(ParameterError, match="'max_depth' expects int, got str 'deep'"):
        plan_sweep(ws, wrong)
    typed = _write_spec(
        project, "typed", kind="random", space={"train.max_depth": {"low": 0.5, "high": 4.0}}
    )
    with pytest.raises(ParameterError, match="'max_depth' expects int, got float"):
        plan_sweep(ws, typed)
    assert not list((project / "workspace").glob("runs/*")), "nothing ran"


def test_the_plan_runs_the_unswept_upstream_once_first(project):
    sp = plan_sweep(Workspace(project), _write_spec(project, "ok"))
    assert sp.stages == ("data", "train", "evaluate") and sp.prefix == ("data",)
    sp = plan_sweep(Workspace(project), _write_spec(project, "ev", space={"evaluate.alpha": [0.1]}))
    assert sp.prefix == ("data", "train")


def test_a_spec_over_the_budget_is_one_line_from_the_cli(project):
    _write_spec(project, "big", budget={"max_members": 2})
    out = nbtrail(project, "sweep", "params/sweeps/big.yaml", timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "the grid has 4 members" in out.stderr


def test_an_unreachable_scheduler_is_one_line(project):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = _write_spec(project, "ok")
    out = nbtrail(project, "sweep", str(spec), "--scheduler", f"tcp://127.0.0.1:{port}", timeout=60)
    assert out.returncode == 13, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"no Dask scheduler answers at tcp://127.0.0.1:{port}" in lines[0]
    assert "within 8 s" in lines[0]


def test_the_table_sorts_by_the_metric_and_marks_the_best():
    def m(n, metric, status="completed"):
        return {
            "member": n,
            "values": {"train.max_depth": n},
            "status": status,
            "metric": metric,
            "runs": {"evaluate": f"evaluate-{n}"},
            "executed": ["train"],
            "seconds": 12.5,
            "worker": None,
            "reason": None if metric else "boom",
        }

    rec = {
        "sweep_id": "sweep-t-1",
        "kind": "grid",
        "metric": "evaluate.log_loss",
        "direction": "minimize",
        "space": {"train.max_depth": "2, 3, 4"},
        "status": "completed",
        "members": [m(1, 0.3), m(2, 0.1), m(3, None, "failed"), m(4, 0.2)],
        "note": None,
    }
    rec["best"] = record.best_member(rec)
    assert rec["best"] == 2
    lines = format_table(rec).splitlines()
    rows = [line.split() for line in lines[2:6]]
    assert [r[1] if r[0] == "*" else r[0] for r in rows] == ["2", "4", "1", "3"]
    assert rows[0][0] == "*" and "failed:" in lines[5]
    assert lines[-1].startswith("best: member 2 (evaluate.log_loss = 0.1)")
