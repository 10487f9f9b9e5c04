"""`nbtrail reproduce` starts its kernel with the original run's thread settings.

scikit-learn's HistGradientBoosting models store the OpenMP thread count they were fitted with
(``_bin_mapper.n_threads``), so the same fit under another ``OMP_NUM_THREADS`` is other bytes,
with the same predictions. A reproduction run from a shell whose thread settings differ from
the original's must still come out identical, and say which settings it ran with. Real CLI
processes and real kernels; the stage fits a small model and records the thread count its
kernel's OpenMP pool had."""

from __future__ import annotations

import json

import pytest
from _project import THREAD_POOLS, nbtrail, one_stage_project

pytestmark = pytest.mark.slow

FIT = """\
import nbtrail
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

run = nbtrail.start("tiny", globals())
X, y = make_classification(n_samples=n_samples, random_state=0)
model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
run.save_model("model", model)
run.log_metrics({"openmp_threads": _openmp_effective_n_threads(),
                 "stored_threads": model._bin_mapper.n_threads})
run.finish()
"""


@pytest.fixture
def project(tmp_path):
    return one_stage_project(tmp_path / "p", "tiny", "n_samples = 200", FIT)


def _records(root):
    return [json.loads(p.read_text()) for p in (root / "workspace" / "runs").glob("*/record.json")]


def test_a_reproduction_runs_with_the_original_thread_settings(project):
    two = {"OMP_NUM_THREADS": "2"}
    out = nbtrail(project, "run", environ=two)
    assert out.returncode == 0, out.stderr[-3000:]
    (original,) = _records(project)
    assert original["metrics"]["openmp_threads"] == 2
    assert original["metrics"]["stored_threads"] == 2
    threads = original["environment"]["threads"]
    assert threads["env"]["OMP_NUM_THREADS"] == "2" and threads["cpus"] >= 1

    # a shell of one OpenMP thread: the kernel still gets the original's two
    rep = nbtrail(
        project, "reproduce", original["run_id"], "--json", environ={"OMP_NUM_THREADS": "1"}
    )
    assert rep.returncode == 0, rep.stdout + rep.stderr[-3000:]
    result = json.loads(rep.stdout)
    assert result["identical"], result
    assert any(
        "ran with the original's thread settings: " in n
        and "OMP_NUM_THREADS=2" in n
        and "(this shell has " in n
        and "OMP_NUM_THREADS=1" in n
        for n in result["notes"]
    ), result["notes"]
    (new,) = [r for r in _records(project) if r.get("reproduces") == original["run_id"]]
    assert new["metrics"] == original["metrics"]
    assert new["outputs"]["model"]["digest"] == original["outputs"]["model"]["digest"]
    assert new["environment"]["threads"]["env"] == threads["env"]


def test_a_variable_the_original_did_not_have_is_unset_for_the_reproduction(project):
    unset = {var: None for var in THREAD_POOLS}
    out = nbtrail(project, "run", environ=unset)
    assert out.returncode == 0, out.stderr[-3000:]
    (original,) = _records(project)
    assert original["environment"]["threads"]["env"] == {}

    rep = nbtrail(project, "reproduce", original["run_id"], environ={"OMP_NUM_THREADS": "3"})
    assert rep.returncode == 0, rep.stdout + rep.stderr[-3000:]
    assert "  note: ran with the original's thread settings: none set (this shell has " in (
        rep.stdout
    ), rep.stdout
    assert rep.stdout.rstrip().endswith("\nidentical"), rep.stdout
    (new,) = [r for r in _records(project) if r.get("reproduces") == original["run_id"]]
    assert new["metrics"]["openmp_threads"] == original["metrics"]["openmp_threads"]
    assert new["outputs"]["model"]["digest"] == original["outputs"]["model"]["digest"]
    assert new["environment"]["threads"]["env"] == {}
