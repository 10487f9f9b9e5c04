"""The runner's scheduler, in-process and in seconds: order, --jobs, a failure skipping its
dependants. Stage execution is replaced by a recorder (no kernel, no papermill): what is under
test is only which stage starts when, which the end-to-end tests then exercise for real."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from nbtrail.core.errors import StageFailed
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.config import Pipeline, Stage
from nbtrail.pipeline.plan import RunPlan
from nbtrail.pipeline.runner import PipelineFailed, Runner

# data -> train -> evaluate -> {export, monitor}: export and monitor are independent
NEEDS = {
    "data": (),
    "train": ("data",),
    "evaluate": ("data", "train"),
    "export": ("evaluate",),
    "monitor": ("evaluate",),
}


class RecordingRunner(Runner):
    """A Runner whose stages sleep instead of executing a notebook."""

    def __init__(self, ws: Workspace, *, fail: str | None = None, pause: float = 0.05, **kw):
        super().__init__(ws, **kw)
        self.fail, self.pause = fail, pause
        self.events: list[tuple[str, str, float]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0
        self.kernels: list[tuple[str, bool, list[str]]] = []  # stage, warm, stages started

    def _provenance(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {}, {}

    def _code_tree_hash(self) -> str:
        return "tree"

    def _fingerprint(self, st: Stage, params: dict[str, Any], upstream: dict[str, Any]) -> str:
        return f"fp-{st.name}"

    def _find_cached(self, name: str, fp: str) -> dict[str, Any] | None:
        return None

    def _kernel_for(self, stage: Stage, *, warm: bool) -> Any:
        with self.lock:
            self.kernels.append((stage.name, warm, _order(self.events, "start")))
        return stage.name  # a stand-in for the kernel, handed to execute_stage

    def execute_stage(self, st: Stage, params, upstream, fp, kernel=None) -> dict[str, Any]:
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            self.events.append(("start", st.name, time.monotonic()))
        time.sleep(self.pause)
        with self.lock:
            self.active -= 1
            self.events.append(("end", st.name, time.monotonic()))
        if st.name == self.fail:
            raise StageFailed(
                stage=st.name, notebook="nb", cell=3, ename="ValueError", evalue="boom", saved=None
            )
        return {
            "stage": st.name,
            "run_id": f"{st.name}-1",
            "duration_s": self.pause,
            "metrics": {},
            "verdicts": {},
            "outputs": {},
            "extra": {},
        }


def _plan(ws: Workspace) -> RunPlan:
    stages = {n: Stage(n, Path(f"{n}.ipynb"), None, needs) for n, needs in NEEDS.items()}
    pipeline = Pipeline(ws, stages, tuple(NEEDS))
    return RunPlan(pipeline, list(NEEDS), {n: {} for n in NEEDS})


def _order(events, kind: str) -> list[str]:
    return [name for k, name, _ in events if k == kind]


@pytest.mark.parametrize("jobs", [1, 2])
def test_every_stage_starts_after_the_stages_it_needs(tmp_path, jobs):
    r = RecordingRunner(Workspace(tmp_path), jobs=jobs)
    results = r._run(_plan(r.ws))
    assert [x.status for x in results] == ["completed"] * 5
    ended = {name: t for k, name, t in r.events if k == "end"}
    for name, t0 in ((n, t) for k, n, t in r.events if k == "start"):
        assert all(ended[need] <= t0 for need in NEEDS[name]), (name, r.events)
    assert r.max_active <= jobs


def test_independent_stages_run_together_with_two_jobs(tmp_path):
    r = RecordingRunner(Workspace(tmp_path), jobs=2, pause=0.2)
    r._run(_plan(r.ws))
    assert r.max_active == 2  # export and monitor overlapped
    assert _order(r.events, "start")[:3] == ["data", "train", "evaluate"]


def test_one_job_runs_stages_one_at_a_time_in_pipeline_order(tmp_path):
    r = RecordingRunner(Workspace(tmp_path), jobs=1)
    r._run(_plan(r.ws))
    assert _order(r.events, "start") == list(NEEDS)
    assert r.max_active == 1


def test_a_failure_skips_what_depends_on_it_and_names_the_stage(tmp_path):
    r = RecordingRunner(Workspace(tmp_path), jobs=2, fail="train")
    with pytest.raises(PipelineFailed) as info:
        r._run(_plan(r.ws))
    statuses = {x.stage: x.status for x in info.value.results}
    assert statuses == {
        "data": "completed",
        "train": "failed",
        "evaluate": "skipped",
        "export": "skipped",
        "monitor": "skipped",
    }
    assert info.value.error.stage == "train" and "cell 3" in str(info.value.error)
    assert _order(r.events, "start") == ["data", "train"]


def test_kernels_are_started_ahead_for_every_stage_that_can_start_next(tmp_path):
    r = RecordingRunner(Workspace(tmp_path), jobs=2, pause=0.05)
    r._run(_plan(r.ws))
    warm = {name: started for name, is_warm, started in r.kernels if is_warm}
    assert [name for name, is_warm, _ in r.kernels if not is_warm] == ["data"]  # the first
    assert warm["train"] == []  # started while data was being submitted
    assert warm["export"] == warm["monitor"] == ["data", "train"]  # both while evaluate ran
