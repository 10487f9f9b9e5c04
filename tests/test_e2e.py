"""The pipeline end to end, as a user runs it: the CLI in its own process, real kernels."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _project import by_stage, nbtrail, records
from conftest import DefaultRun

from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records as rec_mod

pytestmark = pytest.mark.slow
STAGES = ["data", "train", "evaluate", "export", "monitor"]


@pytest.fixture(scope="module")
def done(default_run) -> tuple[Path, DefaultRun]:
    """The shared default run (read only here: a test that runs anything takes a copy)."""
    return default_run.root, default_run


def copy_of(done_root: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(done_root, dest)
    return dest


def run_folders(root: Path) -> set[str]:
    return {p.name for p in (root / "workspace" / "runs").iterdir()}


def test_full_run_prints_summary_and_records_every_stage(done):
    root, out = done
    for stage in STAGES:
        assert f"\n{stage} " in "\n" + out.stdout
    assert "roc_auc=" in out.stdout
    # each stage's own summary lines (recorded by the stage, not known to the runner)
    assert "A/B decision: promote" in out.stdout
    assert "export bundle: workspace/exports/" in out.stdout
    assert "demo batches: each got its expected verdict" in out.stdout
    groups = by_stage(root)
    assert sorted(groups) == sorted(STAGES)
    ws = Workspace(root)
    for stage in STAGES:
        (rec,) = groups[stage]
        rec_mod.validate(rec)
        assert rec["status"] == "completed" and rec["origin"] == "runner"
        assert rec["ended"] >= rec["started"] and rec["error"] is None
        assert rec["extra"]["kernel"]["forked"] is True  # by the run's fork server
        assert rec["environment"]["packages"]["papermill"] == "2.7.0"
        assert rec["notebook"]["path"] == f"notebooks/{Path(rec['notebook']['path']).name}"
        assert (root / rec["notebook"]["executed"]).is_file()
        assert rec["fingerprint"]
        for art in rec["outputs"].values():
            if art["path"]:
                assert hash_file(root / art["path"]) == art["digest"]
        assert (
            set(rec["upstream"])
            == {
                "data": set(),
                "train": {"data"},
                "evaluate": {"data", "train"},
                "export": {"data", "train", "evaluate"},
                "monitor": {"data", "train", "evaluate"},
            }[stage]
        )
    data = groups["data"][0]
    assert data["outputs"]["snapshot"]["ref"] == "breast_cancer_snapshot@1"
    train = groups["train"][0]
    assert {(i["stage"], i["name"]) for i in train["inputs"]} == {("data", "snapshot")}
    assert train["inputs"][0]["ref"] == "breast_cancer_snapshot@1"
    assert groups["evaluate"][0]["metrics"]["roc_auc"] > 0.9
    # the executed notebook holds its outputs and the injected parameters
    executed = json.loads((root / train["notebook"]["executed"]).read_text())
    tags = [t for c in executed["cells"] for t in c["metadata"].get("tags", [])]
    assert "injected-parameters" in tags
    assert ws.run_dir(train["run_id"]).joinpath("outputs", "model.skops").is_file()


def test_second_run_reuses_everything_without_a_kernel(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    before = run_folders(root)
    t0 = time.perf_counter()
    out = nbtrail(root, "run")
    assert out.returncode == 0, out.stderr
    assert "nothing changed" in out.stdout
    statuses = {
        line.split()[0]: line.split()[1]
        for line in out.stdout.splitlines()[1:]
        if line[:1].strip() and line.split()[0] in STAGES
    }
    assert statuses == dict.fromkeys(STAGES, "reused")
    assert run_folders(root) == before
    assert "running notebooks" not in out.stderr
    assert time.perf_counter() - t0 < 60  # a sanity bound only; speed is in bench/


def test_parameter_change_reruns_that_stage_and_downstream_only(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    out = nbtrail(root, "run", "-p", "train.max_depth=2")
    assert out.returncode == 0, out.stderr[-3000:]
    groups = by_stage(root)
    assert len(groups["data"]) == 1
    for stage in STAGES[1:]:
        assert len(groups[stage]) == 2, stage
    new_train = max(groups["train"], key=lambda r: r["started"])
    assert new_train["params"]["max_depth"] == 2
    new_eval = max(groups["evaluate"], key=lambda r: r["started"])
    assert new_eval["upstream"]["train"] == new_train["run_id"]
    assert new_eval["upstream"]["data"] == groups["data"][0]["run_id"]


def test_unknown_parameter_is_refused_before_any_kernel(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    before = run_folders(root)
    out = nbtrail(root, "run", "-p", "train.max_dept=2")
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "unknown parameter 'max_dept'" in lines[0]
    assert "valid parameters:" in lines[0] and "max_depth" in lines[0]
    assert run_folders(root) == before


def test_malformed_yaml_names_file_and_line_and_runs_nothing(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    before = run_folders(root)
    (root / "params" / "evaluate.yaml").write_text("min_roc_auc: 0.9\nmax_log_loss: [0.5\n")
    out = nbtrail(root, "run", "--force")
    assert out.returncode == 2
    assert "params/evaluate.yaml:" in out.stderr and "malformed YAML" in out.stderr
    assert run_folders(root) == before


def test_failing_cell_names_stage_notebook_cell_and_stops_the_pipeline(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    out = nbtrail(root, "run", "-p", "data.source=no/such.csv")
    assert out.returncode == 4, out.stderr  # a DataError raised in a cell keeps its exit code
    err = out.stderr.strip().splitlines()[-1]
    assert err.startswith("nbtrail: error: stage 'data' failed in notebooks/01_data.ipynb at cell ")
    assert "DataError: source file not found: no/such.csv" in err
    assert "failed notebook saved at workspace/runs/data-" in err
    groups = by_stage(root)
    failed = [r for r in groups["data"] if r["status"] == "failed"]
    assert len(failed) == 1
    rec = failed[0]
    assert rec["error"]["ename"] == "DataError" and isinstance(rec["error"]["cell"], int)
    assert (root / rec["notebook"]["executed"]).is_file()
    assert len(groups["train"]) == 1  # later stages did not run
    assert "skipped" in out.stdout


def test_failing_cells_traceback_is_recorded_and_printed_with_verbose(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    out = nbtrail(root, "--verbose", "run", "--stage", "data", "-p", "data.source=no/such.csv")
    assert out.returncode == 4, out.stderr
    assert "Traceback" in out.stderr and "\x1b[" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith("nbtrail: error: stage 'data' failed")
    failed = [r for r in by_stage(root)["data"] if r["status"] == "failed"]
    assert "DataError" in failed[0]["error"]["traceback"]
    quiet = nbtrail(root, "run", "--stage", "data", "-p", "data.source=no/such.csv")
    assert "Traceback" not in quiet.stderr


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    out[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    return out


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, theirs, ...)."""
    parents = _parents()
    found, frontier = [], [pid]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        frontier += kids
    return found


def _still_running(pids: list[int], *, within: float) -> list[int]:
    deadline = time.monotonic() + within
    while True:
        alive = []
        for p in pids:
            try:
                with open(f"/proc/{p}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                        alive.append(p)
            except OSError:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def test_kill_9_mid_stage_leaves_an_interrupted_run_and_the_next_run_completes(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nbtrail", "-C", str(root), "run", "--force-stage", "train"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    victim = None
    deadline = time.time() + 120
    while time.time() < deadline and victim is None:
        for rec in records(root):
            if rec["stage"] == "train" and rec["status"] == "running":
                victim = rec
        time.sleep(0.05)
    assert victim is not None, "the train stage never started"
    below = _descendants(proc.pid)  # launchers, the fork server, the kernels it forked
    assert below, "no kernel process under the run"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _still_running(below, within=15) == []  # nothing outlives the run
    ws = Workspace(root)
    assert rec_mod.load(ws, victim["run_id"])["status"] == "interrupted"
    out = nbtrail(root, "run")
    assert out.returncode == 0, out.stderr[-3000:]
    assert rec_mod.load(ws, victim["run_id"])["status"] == "interrupted"
    completed = [r for r in by_stage(root)["train"] if r["status"] == "completed"]
    assert len(completed) >= 1


def test_two_runs_at_once_lose_no_record(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NBTRAIL_")}
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(root), "run", "--stage", "train", "--force"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)]
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env))
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    trains = [r for r in by_stage(root)["train"] if r["status"] == "completed"]
    assert len(trains) == 3
    ws = Workspace(root)
    for r in trains:
        rec_mod.validate(rec_mod.load(ws, r["run_id"]))


def test_monitor_exits_8_on_a_drifted_batch_and_names_the_columns(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    (monitor,) = by_stage(root)["monitor"]
    shifted = monitor["extra"]["demo_batches"]["drift_columns"]  # chosen from the data, recorded
    assert shifted == ["mean_radius", "mean_texture", "mean_perimeter"]
    out = nbtrail(root, "run", "--stage", "monitor", "-p", "monitor.batch=demo_covariate_drift")
    assert out.returncode == 8, out.stderr[-2000:]
    assert all(c in out.stderr for c in shifted)
    clean = nbtrail(root, "run", "--stage", "monitor", "-p", "monitor.batch=demo_clean")
    assert clean.returncode == 0, clean.stderr[-2000:]


# The only outputs of the default pipeline that a re-execution may change, by design: the
# monitor's plots of the workspace's history (which the re-execution itself extends).
EXPECTED_TO_DIFFER = {"monitor": {"history", "estimates"}}


def test_reproduce_every_stage_of_the_default_pipeline(done, tmp_path):
    """``nbtrail reproduce`` on each stage's run of ``make run``'s pipeline: exit 0, every
    metric and output the same, but for the monitor's two history plots, reported as expected
    to differ with their reason (declared ``reproducible: false`` in the record)."""
    root = copy_of(done[0], tmp_path)
    originals = {stage: runs[0] for stage, runs in by_stage(root).items()}
    history = root / "workspace" / "monitoring" / "history.jsonl"
    before = history.read_bytes()
    for stage in STAGES:
        original = originals[stage]
        out = nbtrail(root, "reproduce", original["run_id"])
        assert out.returncode == 0, (stage, out.stdout + out.stderr[-2000:])
        lines = out.stdout.strip().splitlines()
        assert not [line for line in lines if "DIFFERS" in line], out.stdout
        outputs = {line.split()[1]: i for i, line in enumerate(lines) if line[:9] == "  output "}
        assert set(outputs) == set(original["outputs"]), out.stdout
        declared = EXPECTED_TO_DIFFER.get(stage, set())
        differ = {n for n, i in outputs.items() if lines[i].endswith("  expected to differ")}
        # a declared output may still come out the same (no monitor run since the original)
        assert differ <= declared, out.stdout
        for name in differ:
            assert lines[outputs[name] + 1].startswith("    why: drawn from the workspace's ")
        assert lines[-1] == (
            f"identical, but for {len(differ)} outputs expected to differ (see why above)"
            if differ
            else "identical"
        ), out.stdout
        (new,) = [r for r in by_stage(root)[stage] if r.get("reproduces") == original["run_id"]]
        assert new["origin"] == "reproduce" and new["status"] == "completed"
        rec_mod.validate(new)
        for name, art in new["outputs"].items():
            assert (art.get("reproducible", True), bool(art.get("reason"))) == (
                (False, True) if name in declared else (True, False)
            )
            if name not in declared:
                assert art["digest"] == original["outputs"][name]["digest"]
    # a reproduction adds no batch, estimate or late label to the monitoring history
    assert history.read_bytes() == before
    # the re-executed export published the same bundle over the registered one: what ships is
    # still, byte for byte, what the original export run recorded
    shipped = nbtrail(root, "export", "breast_cancer@1", str(tmp_path / "shipped"))
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    recorded = root / originals["export"]["outputs"]["bundle"]["path"]
    assert (tmp_path / "shipped" / "manifest.json").read_bytes() == recorded.read_bytes()


def test_lineage_of_the_exported_model_reaches_data_params_notebook_and_code(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    out = nbtrail(root, "lineage", "export:bundle", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    (train,) = by_stage(root)["train"]
    assert "breast_cancer_snapshot@1" in text  # the dataset version
    assert train["run_id"] in text and train["notebook"]["code_hash"] in text
    assert '"max_depth"' in text  # the train parameters


def test_schema_change_under_a_name_is_a_new_version_and_fails_when_fixed(done, tmp_path):
    from nbtrail.practices.sources import load_source

    root = copy_of(done[0], tmp_path)
    frame = load_source("sklearn:breast_cancer", root).drop(columns=["worst_area"])
    frame.to_csv(root / "changed.csv", index=False)
    out = nbtrail(
        root,
        "run",
        "--stage",
        "data",
        "-p",
        "data.source=changed.csv",
        "-p",
        "data.dataset_name=breast_cancer_snapshot",  # the same name: its next version
        "-p",
        "data.fixed_schema=true",
    )
    assert out.returncode == 4, out.stderr[-2000:]
    assert (
        "breast_cancer_snapshot@1 to breast_cancer_snapshot@2" in out.stderr
        and "worst_area" in out.stderr
    )
    shown = nbtrail(root, "data", "diff", "breast_cancer_snapshot@1", "breast_cancer_snapshot@2")
    assert shown.returncode == 0 and "worst_area" in shown.stdout


def test_the_runner_emits_valid_openlineage_events_for_every_stage(done):
    import jsonschema
    from referencing import Registry, Resource

    root, _ = done
    schemas = Path(__file__).resolve().parent / "schemas" / "openlineage"
    docs = [json.loads((schemas / "OpenLineage.json").read_text())]
    docs += [json.loads(f.read_text()) for f in sorted((schemas / "facets").glob("*.json"))]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in docs)
    validator = jsonschema.Draft202012Validator(docs[0], registry=registry)
    lines = (root / "workspace" / "openlineage" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        validator.validate(event)
    kinds = {}
    for e in events:
        kinds.setdefault(e["job"]["name"].split(".")[-1], []).append(e["eventType"])
    assert {k: v for k, v in kinds.items() if k in STAGES} == {
        s: ["START", "COMPLETE"] for s in STAGES
    }, kinds
    train = next(e for e in events if e["eventType"] == "COMPLETE" and "train" in e["job"]["name"])
    assert train["inputs"] and train["outputs"]


def test_a_weakened_challenger_is_not_promoted_and_the_record_says_why(done, tmp_path):
    root = copy_of(done[0], tmp_path)
    out = nbtrail(root, "run", "-p", "train.max_depth=1", "-p", "train.n_estimators=3")
    assert out.returncode == 7, out.stderr[-2000:]  # a gate failed in evaluate
    assert "stage 'evaluate' failed" in out.stderr and "gate " in out.stderr
    failed = [r for r in by_stage(root)["evaluate"] if r["status"] == "failed"]
    assert len(failed) == 1
    decision = failed[0]["extra"]["ab_decision"]
    assert decision["decision"] == "keep_champion" and decision["reason"]
    history = nbtrail(root, "registry", "history", "breast_cancer")
    moves = [line for line in history.stdout.splitlines()[1:] if line.strip()]
    assert history.returncode == 0 and len(moves) == 1, history.stdout  # only the first model
    assert "-> 1" in moves[0]
