"""The run index: derived from run folders, kept in step, safe with concurrent writers."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from _records import Factory

from nbtrail.core import db
from nbtrail.core.errors import NotFound, ParameterError
from nbtrail.runs import index, records

TESTS = Path(__file__).resolve().parent
LIB = TESTS.parent / "lib"


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def ids(rows) -> list[str]:
    return [r.run_id for r in rows]


def test_rebuild_indexes_valid_records_and_reports_invalid_ones(ws) -> None:
    f = Factory(ws)
    chain = f.chain()
    # an unreadable file and a record that fails the schema, side by side with good ones
    bad_json = ws.run_dir("train-20261126T230000-0000aa")
    bad_json.mkdir(parents=True)
    (bad_json / "record.json").write_text("{not json")
    invalid = f.record("train", params={"C": 2.0})
    invalid["status"] = "exploded"
    ws.run_dir(invalid["run_id"]).mkdir(parents=True)
    (ws.run_dir(invalid["run_id"]) / "record.json").write_text(json.dumps(invalid))

    report = index.rebuild(ws)
    assert report.indexed == 4
    assert sorted(p.path.split("/")[2] for p in report.problems) == sorted(
        [bad_json.name, invalid["run_id"]]
    )
    assert any("status" in p.problem for p in report.problems)
    # listings keep working and leave the invalid ones out
    assert set(ids(index.query_runs(ws))) == {r["run_id"] for r in chain.values()}
    assert len(index.problems(ws)) == 2
    with pytest.raises(NotFound, match="invalid record"):
        index.get_run(ws, invalid["run_id"])


def test_index_rebuilt_when_missing_and_kept_in_step(ws) -> None:
    f = Factory(ws)
    chain = f.chain()  # written without upsert: the index does not exist yet
    assert not ws.index_path.exists()
    assert len(index.query_runs(ws)) == 4  # ensure() rebuilt it
    # a run folder appears behind the index's back
    extra = f.write(f.record("train", params={"C": 3.0}))
    assert extra["run_id"] in ids(index.query_runs(ws, stage="train"))
    # a run folder disappears
    shutil.rmtree(ws.run_dir(extra["run_id"]))
    assert extra["run_id"] not in ids(index.query_runs(ws))
    # an invalid record that gets fixed is picked up
    broken = f.record("data")
    ws.run_dir(broken["run_id"]).mkdir(parents=True)
    (ws.run_dir(broken["run_id"]) / "record.json").write_text("{")
    assert index.ensure(ws).added == 1 and len(index.problems(ws)) == 1
    os.utime(ws.run_dir(broken["run_id"]) / "record.json", ns=(1, 1))
    f.write(broken)
    assert index.ensure(ws).refreshed == 1
    assert index.problems(ws) == []
    assert broken["run_id"] in ids(index.query_runs(ws, stage="data"))
    assert index.ensure(ws).changed is False
    assert chain["train"]["run_id"] in ids(index.query_runs(ws))


def test_running_record_rewritten_without_upsert_is_refreshed(ws) -> None:
    """A runner killed between writing the final record and upserting it."""
    f = Factory(ws)
    rec = f.write(f.record("train", status="running"))  # pid: this live process
    index.upsert(ws, rec)
    assert index.query_runs(ws)[0].status == "running"
    done = dict(rec, status="completed", ended=rec["started"], duration_s=2.0, pid=None)
    done["metrics"] = {"roc_auc": 0.91}
    path = ws.run_dir(rec["run_id"]) / "record.json"
    before = path.stat().st_mtime_ns
    records.write(ws, done)
    os.utime(path, ns=(before + 1000, before + 1000))
    (row,) = index.query_runs(ws)
    assert row.status == "completed" and row.metrics == {"roc_auc": 0.91}


def test_dead_running_run_reads_as_interrupted(ws) -> None:
    f = Factory(ws)
    live = f.write(f.record("train", status="running"))
    gone = f.record("train", status="running", pid=dead_pid())
    f.write(gone)
    index.upsert(ws, gone)  # the index stores `running`; reading must not trust it
    index.upsert(ws, live)
    status = {r.run_id: r.status for r in index.query_runs(ws)}
    assert status == {live["run_id"]: "running", gone["run_id"]: "interrupted"}
    assert ids(index.query_runs(ws, status="interrupted")) == [gone["run_id"]]
    assert ids(index.query_runs(ws, status="running")) == [live["run_id"]]
    assert index.get_run(ws, gone["run_id"])["status"] == "interrupted"
    assert index.find_cached(ws, "train", "anything") is None


def test_query_filters_sort_and_limit(ws) -> None:
    f = Factory(ws)
    a = f.chain(C=1.0, auc=0.95)
    b = f.chain(C=0.5, auc=0.91)
    c = f.chain(C=2, auc=0.99, data_ref="default@2")
    f.write(f.record("evaluate", status="failed", params={"n_boot": 50}))
    evals = [x["evaluate"]["run_id"] for x in (a, b, c)]

    assert ids(index.query_runs(ws, stage="evaluate", status="completed")) == evals[::-1]
    assert ids(index.query_runs(ws, stage="evaluate", sort_by="roc_auc")) == [
        evals[2],
        evals[0],
        evals[1],
        *ids(index.query_runs(ws, stage="evaluate", status="failed")),
    ]  # runs without the metric come last
    asc = index.query_runs(
        ws, stage="evaluate", status="completed", sort_by="roc_auc", ascending=True
    )
    assert ids(asc) == [evals[1], evals[0], evals[2]]
    assert ids(index.query_runs(ws, metrics=["roc_auc>0.92"])) == [evals[2], evals[0]]
    assert ids(index.query_runs(ws, metrics=["roc_auc>=0.91", "accuracy<0.9"])) == [evals[1]]
    assert ids(index.query_runs(ws, metrics=[("roc_auc", "=", 0.99)])) == [evals[2]]
    # numbers compare numerically: C=2 (an int) matches 2.0
    assert ids(index.query_runs(ws, params={"C": 2.0})) == [c["train"]["run_id"]]
    assert ids(index.query_runs(ws, params={"C": 0.5, "seed": 0})) == [b["train"]["run_id"]]
    assert index.query_runs(ws, params={"C": "0.5"}) == []  # a string is not a number
    assert len(index.query_runs(ws, limit=3)) == 3
    row = index.query_runs(ws, stage="train", limit=1)[0]
    assert row.params == {"C": 2, "seed": 0} and row.git_commit == "a" * 40
    with pytest.raises(ParameterError, match="bad metric filter"):
        index.query_runs(ws, metrics=["roc_auc>>high"])


def test_get_run_by_id_prefix_and_stage(ws) -> None:
    f = Factory(ws)
    first = f.chain()
    second = f.chain()
    tid = second["train"]["run_id"]
    assert index.get_run(ws, tid)["params"]["C"] == 1.0
    assert index.get_run(ws, tid[:-2])["run_id"] == tid
    assert index.get_run(ws, "train")["run_id"] == tid  # the latest completed run
    with pytest.raises(NotFound, match="ambiguous"):
        index.get_run(ws, "train-2026")
    with pytest.raises(NotFound, match="no run"):
        index.get_run(ws, "nosuchstage")
    assert first["train"]["run_id"] != tid


def test_find_cached(ws) -> None:
    f = Factory(ws)
    old = f.chain()["train"]
    new = f.chain()["train"]  # same parameters and data: same fingerprint
    fp = new["fingerprint"]
    assert old["fingerprint"] == fp
    assert index.find_cached(ws, "train", fp) == new["run_id"]
    # interactive and failed runs with that fingerprint are never cache hits
    f.write(f.record("train", origin="interactive", fingerprint=fp, outputs=new["outputs"]))
    f.write(f.record("train", status="failed", fingerprint=fp))
    assert index.find_cached(ws, "train", fp) == new["run_id"]
    # outputs gone: fall back to the older run whose outputs still exist
    (ws.root / new["outputs"]["model"]["path"]).unlink()
    assert index.find_cached(ws, "train", fp) == old["run_id"]
    (ws.root / old["outputs"]["model"]["path"]).unlink()
    assert index.find_cached(ws, "train", fp) is None
    assert index.find_cached(ws, "evaluate", fp) is None
    # dataset outputs exist when their object is in the store
    data = index.get_run(ws, "data")
    assert index.find_cached(ws, "data", data["fingerprint"]) is None  # no object stored
    from nbtrail.data.store import ObjectStore

    digest = ObjectStore(ws.objects_dir).put_bytes(b"snapshot bytes")
    rec = f.write(
        f.record(
            "data",
            fingerprint="fp-x",
            outputs={
                "snapshot": {
                    "name": "snapshot",
                    "kind": "dataset",
                    "digest": digest,
                    "ref": "snapshot@9",
                }
            },
        )
    )
    assert index.find_cached(ws, "data", "fp-x") == rec["run_id"]


def test_upsert_refuses_an_invalid_record(ws) -> None:
    rec = Factory(ws).record("train")
    rec["origin"] = "somewhere"
    with pytest.raises(records.RecordInvalid):
        index.upsert(ws, rec)


WRITER = """
import sys
sys.path[:0] = [{lib!r}, {tests!r}]
import json
from pathlib import Path
from nbtrail.runs import index
from nbtrail.core.workspace import Workspace
from _records import Factory
ws = Workspace(Path(sys.argv[1]))
f = Factory(ws, start=int(sys.argv[2]))
for i in range(int(sys.argv[3])):
    rec = f.record("train", params={{"i": i, "w": sys.argv[2]}}, metrics={{"m": i / 10}})
    folder = ws.run_dir(rec["run_id"])
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(rec))  # no fsync: the index is under test
    index.upsert(ws, rec)
    if sys.argv[4] == "rebuild" and i % 25 == 0:
        index.rebuild(ws)
"""


def test_concurrent_writers_lose_nothing(ws, tmp_path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(lib=str(LIB), tests=str(TESTS)))
    n = 80
    reader = index.connect(ws)  # a reader open meanwhile (also spares each close's fsync)
    procs = [
        subprocess.Popen([sys.executable, str(script), str(ws.root), str(start), str(n), mode])
        for start, mode in ((0, "upsert"), (10_000, "rebuild"))
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    reader.close()
    con = db.connect(ws.index_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 2 * n
        assert con.execute("SELECT count(*) FROM run_params").fetchone()[0] == 2 * 2 * n
        assert con.execute("SELECT count(*) FROM run_metrics").fetchone()[0] == 2 * n
    finally:
        con.close()
    assert index.ensure(ws).changed is False
    assert len(index.query_runs(ws, stage="train", limit=None)) == 2 * n


def test_layout_change_rebuilds(ws) -> None:
    f = Factory(ws)
    f.chain()
    index.ensure(ws)
    con = db.connect(ws.index_path)
    con.execute("UPDATE run_index_meta SET value = 'old' WHERE key = 'layout'")
    con.execute("CREATE TABLE IF NOT EXISTS registry_thing (x)")  # another module's table
    con.close()
    assert len(index.query_runs(ws)) == 4
    con = sqlite3.connect(ws.index_path)
    assert con.execute("SELECT name FROM sqlite_master WHERE name = 'registry_thing'").fetchone()
    con.close()


def _remembered(ws) -> str | None:
    con = db.connect(ws.index_path)
    try:
        row = con.execute(
            "SELECT value FROM run_index_meta WHERE key = 'runs_dir_mtime'"
        ).fetchone()
    finally:
        con.close()
    return row[0] if row else None


def test_listing_shortcut_only_trusts_a_settled_runs_folder(ws) -> None:
    f = Factory(ws)
    f.chain()
    index.ensure(ws)
    assert _remembered(ws) is None  # the folder changed just now: not trusted yet
    old = ws.runs_dir.stat().st_mtime_ns - 10_000_000_000
    os.utime(ws.runs_dir, ns=(old, old))
    index.ensure(ws)
    assert _remembered(ws) == str(old)
    # a new run folder changes the folder's mtime, so it is found
    new = f.write(f.record("train", params={"C": 9.0}))
    assert index.ensure(ws).added == 1
    assert new["run_id"] in ids(index.query_runs(ws))
    # a run folder without its record yet is not a settled state: never remembered
    ws.run_dir("train-20261126T235959-abcdef").mkdir()
    os.utime(ws.runs_dir, ns=(old, old))
    assert index.ensure(ws).added == 0
    assert _remembered(ws) is None


KILLED = """
import sys
sys.path[:0] = [{lib!r}, {tests!r}]
from pathlib import Path
from nbtrail.runs import index, records
from nbtrail.core.workspace import Workspace
from _records import Factory
ws = Workspace(Path(sys.argv[1]))
f = Factory(ws, start=50_000)
rec = f.record("train", status="running")  # pid: this process
records.write(ws, rec)
index.upsert(ws, rec)
Path(sys.argv[2]).write_text(rec["run_id"])
while True:  # rewrite the whole index until killed, mid-transaction sooner or later
    index.rebuild(ws)
"""


def test_kill_9_mid_write_leaves_a_consistent_index(ws, tmp_path) -> None:
    import signal
    import time

    f = Factory(ws)
    for _ in range(25):
        f.chain()
    script = tmp_path / "killed.py"
    script.write_text(KILLED.format(lib=str(LIB), tests=str(TESTS)))
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, str(script), str(ws.root), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), "the writer never started"
        time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    run_id = marker.read_text()
    con = db.connect(ws.index_path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
    rows = index.query_runs(ws, limit=None)
    assert len(rows) == 101
    assert {r.run_id: r.status for r in rows}[run_id] == "interrupted"
    assert index.get_run(ws, run_id)["status"] == "interrupted"


def test_a_second_connection_in_a_process_keeps_the_first_ones_locks(tmp_path):
    """Two connections in one process (the runner's stage threads) and a third process that
    writes and closes: nothing of the first connection's is lost. Peeking at the file with
    open()/close() would drop this process's POSIX locks, and the other process, believing
    itself the last user, would delete the WAL under the live connection."""
    path = tmp_path / "index.sqlite"
    first = db.connect(path)
    first.execute("CREATE TABLE t (x INTEGER)")
    first.execute("INSERT INTO t VALUES (1)")
    second = db.connect(path)  # what a second stage thread does
    writer = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL');"
        " c.execute('INSERT INTO t VALUES (2)'); c.commit(); c.close()"
    )
    subprocess.run([sys.executable, "-c", writer, str(path)], check=True)
    # the writer knew it was not the last user: the live connections' WAL is still there
    assert Path(f"{path}-wal").exists()
    first.execute("INSERT INTO t VALUES (3)")
    second.close()
    first.close()
    check = sqlite3.connect(path)
    assert sorted(r[0] for r in check.execute("SELECT x FROM t")) == [1, 2, 3]
