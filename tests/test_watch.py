"""``nbtrail monitor watch`` and ``--alert-url`` on a real project (one pipeline run, shared):
files dropped in a folder are each monitored once, a failed one's verdict reaches a real
``http.server``, an unreachable webhook is recorded and the exit code stays the verdict's,
and SIGTERM in the middle of a batch leaves no half-recorded batch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _project import by_stage, nbtrail
from test_alerts import Hook, closed_port

from nbtrail.core.applog import log_writer
from nbtrail.core.errors import DataError, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets
from nbtrail.pipeline.watch import new_files, parse_every, state_file, watch, watched
from nbtrail.practices import monitoring as m


@pytest.fixture(scope="module")
def project(tmp_path_factory, default_run) -> Path:
    """The pipeline run once (the demo monitor stage versions its batches), and a folder of
    batch files taken from them."""
    root, _ = default_run.copy(tmp_path_factory.mktemp("watch") / "project")
    data = Datasets(Workspace(root))
    (root / "batches").mkdir()
    for name in ("clean", "covariate_drift"):
        data.read_frame(f"demo_{name}").to_csv(root / "batches" / f"{name}.csv", index=False)
    return root


def monitor_runs(root: Path) -> dict[str, dict]:
    return {r["run_id"]: r for r in by_stage(root).get("monitor", [])}


def test_the_demo_notebook_shows_multivariate_drift_and_that_no_alert_went_out(project):
    (demo,) = monitor_runs(project).values()
    assert demo["extra"]["alert"]["sent"] is False
    assert demo["extra"]["alert"]["reason"] == "no alert_url set"
    executed = json.loads((project / demo["notebook"]["executed"]).read_text())
    shown = json.dumps([c.get("outputs", []) for c in executed["cells"]])
    assert "error_ratio" in shown and "covariate_drift" in shown and "no alert_url set" in shown


def test_watch_once_monitors_each_file_once_and_alerts_the_failed_one(project, tmp_path):
    hook = Hook()
    try:
        before = set(monitor_runs(project))
        out = nbtrail(project, "monitor", "watch", "batches", "--once", "--alert-url", hook.url)
        assert out.returncode == 8, out.stdout + out.stderr[-3000:]  # covariate_drift failed
        lines = out.stdout.splitlines()
        assert any(ln.startswith("clean.csv: pass") for ln in lines), out.stdout
        assert any(ln.startswith("covariate_drift.csv: fail") for ln in lines), out.stdout
        new = {k: v for k, v in monitor_runs(project).items() if k not in before}
        assert sorted(r["status"] for r in new.values()) == ["completed", "failed"]
        (body,) = hook.bodies  # only the failed batch's run alerted
        assert body["status"] == "fail" and body["run_id"] in new
        assert new[body["run_id"]]["error"]["ename"] == "VerdictFailed"  # the verdict's failure
        assert [b["batch"] for b in body["batches"]] == ["covariate_drift"]
        assert "data_drift" in body["batches"][0]["failed_checks"]
        assert Path(body["links"]["reports"]["covariate_drift"]).is_file()
        assert new[body["run_id"]]["extra"]["alert"]["delivered"] is True
        state = watched(Workspace(project))
        assert sorted(s["name"] for s in state) == ["clean.csv", "covariate_drift.csv"]
        assert {s["run_id"] for s in state} == set(new)

        again = nbtrail(project, "monitor", "watch", "batches", "--once")
        assert again.returncode == 0 and "no new batch files" in again.stdout, again.stderr
        assert set(monitor_runs(project)) == before | set(new) and len(hook.bodies) == 1
    finally:
        hook.close()


def test_an_unreachable_webhook_is_recorded_and_the_exit_code_stays_the_verdicts(project):
    url = f"http://127.0.0.1:{closed_port()}/hook"
    before = set(monitor_runs(project))
    out = nbtrail(
        project,
        "run",
        "--stage",
        "monitor",
        "-p",
        "monitor.batch=demo_covariate_drift",
        "--alert-url",
        url,
    )
    assert out.returncode == 8, out.stderr[-3000:]
    (rec,) = [r for k, r in monitor_runs(project).items() if k not in before]
    alert = rec["extra"]["alert"]
    assert alert["sent"] and not alert["delivered"] and alert["url"] == url
    assert alert["delivery"]["attempts"] == 3 and "unreachable" in alert["reason"]
    assert "alert: FAILED to reach" in out.stdout + out.stderr


def test_sigterm_in_the_middle_of_a_batch_finishes_and_records_it_whole(project):
    folder = project / "batches"
    (folder / "late.csv").write_bytes((folder / "clean.csv").read_bytes())
    before = set(monitor_runs(project))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(project), "monitor", "watch", "batches"]
    proc = subprocess.Popen(
        [*cmd, "--every", "1s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        deadline = time.monotonic() + 300
        while not (set(monitor_runs(project)) - before) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        (run_id,) = set(monitor_runs(project)) - before
        assert monitor_runs(project)[run_id]["status"] == "running"  # mid-batch
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr.decode()[-3000:]
    runs = monitor_runs(project)
    assert set(runs) - before == {run_id} and runs[run_id]["status"] == "completed"
    late = [s for s in watched(Workspace(project)) if s["name"] == "late.csv"]
    assert [s["run_id"] for s in late] == [run_id] and late[0]["status"] == "pass"
    history = m.load_history(Workspace(project))
    assert history.loc[history["run_id"] == run_id, "batch"].tolist() == ["late"]
    assert state_file(Workspace(project)).read_bytes().endswith(b"\n")
    assert stdout.decode().splitlines()[-1].startswith("late.csv: pass")


def test_new_files_are_known_by_name_and_content_and_others_ignored(ws, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in ("a.csv", "b.parquet", ".part.csv", "notes.txt"):
        (folder / name).write_text("x\n1\n")
    assert [p.name for p, _ in new_files(ws, folder)] == ["a.csv", "b.parquet"]
    (path, digest) = new_files(ws, folder)[0]
    with log_writer(state_file(ws)) as append:
        append({"name": path.name, "digest": digest})
    assert [p.name for p, _ in new_files(ws, folder)] == ["b.parquet"]
    (folder / "a.csv").write_text("x\n2\n")  # replaced under the same name: new again
    assert sorted(p.name for p, _ in new_files(ws, folder)) == ["a.csv", "b.parquet"]
    with pytest.raises(DataError, match="does not exist"):
        new_files(ws, tmp_path / "nowhere")
    with pytest.raises(ParameterError, match="sets monitor.batch itself"):
        watch(ws, folder, once=True, overrides=["monitor.batch=other.csv"])


def test_every_reads_seconds_minutes_and_hours():
    assert [parse_every(t) for t in ("30s", "10m", "1h", "90")] == [30, 600, 3600, 90]
    for bad in ("", "0s", "-1m", "soon"):
        with pytest.raises(ParameterError, match="--every"):
            parse_every(bad)
