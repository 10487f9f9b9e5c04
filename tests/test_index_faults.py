"""Bad days for the run index: locked by another process, deleted, corrupted; bad run folders.

The run folders and the append-only logs are the truth, ``workspace/index.sqlite`` a cache of
them: whatever happens to the cache, the answers of ``nbtrail runs``, ``registry list|history``,
``lineage`` and the monitoring history come back the same, and a write that cannot get the lock
fails with Busy (exit 10) without losing anything. No kernels: run folders are built directly.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from _project import nbtrail
from _records import Factory

from nbtrail.core import db
from nbtrail.core.errors import Busy
from nbtrail.core.workspace import Workspace
from nbtrail.practices import monitoring, registry
from nbtrail.practices.monitoring.verdict import Verdict
from nbtrail.runs import index, lineage, records

QUERIES = (
    ("runs", "--json", "--limit", "0"),
    ("runs", "--stage", "evaluate", "--sort", "roc_auc"),
    ("registry", "list"),
    ("registry", "history", "model"),
)


def _verdict(batch: str, share: float) -> Verdict:
    return Verdict(
        batch=batch,
        rows=100,
        status="pass" if share < 0.3 else "fail",
        kind=None if share < 0.3 else "covariate drift",
        summary=f"{share:.0%} of columns drifted",
        checks=[],
        drift=pd.DataFrame(),
        drift_share=share,
        drifted_columns=[],
    )


def answers(root: Path, lineage_of: str) -> dict[str, str]:
    """What a person sees: the CLI's outputs, and the monitoring history as the library reads it
    (no verb prints it whole)."""
    out = {}
    for argv in (*QUERIES, ("lineage", lineage_of, "--json")):
        p = nbtrail(root, *argv)
        assert p.returncode == 0, (argv, p.stderr)
        out[" ".join(argv)] = p.stdout
    out["monitoring history"] = monitoring.load_history(Workspace(root)).to_json()
    return out


def library_answers(ws: Workspace, lineage_of: str) -> dict[str, str]:
    """The same answers from the library calls behind those verbs, in this process (no
    interpreter start-up per question)."""
    return {
        "runs": json.dumps([r.to_dict() for r in index.query_runs(ws, limit=None)]),
        "best": json.dumps(
            [r.to_dict() for r in index.query_runs(ws, stage="evaluate", sort_by="roc_auc")]
        ),
        "registry list": json.dumps(registry.list_versions(ws)),
        "registry history": json.dumps(registry.history(ws, "model")),
        "lineage": json.dumps(lineage.upstream(ws, lineage_of).to_dict(), sort_keys=True),
        "monitoring history": monitoring.load_history(ws).to_json(),
    }


@pytest.fixture(scope="module")
def golden(tmp_path_factory) -> tuple[Path, str, dict[str, str], dict[str, str]]:
    """A workspace with 12 runs, two registered versions and alias moves, a monitoring
    history; and its answers, read once. Tests copy it before they break it."""
    root = tmp_path_factory.mktemp("golden") / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    ws = Workspace(root)
    f = Factory(ws)
    chains = [f.chain(C=c, auc=a) for c, a in ((0.5, 0.91), (1.0, 0.95), (2.0, 0.93))]
    for i, ch in enumerate(chains[:2]):
        model = ch["train"]["outputs"]["model"]
        v = registry.register_model(
            ws,
            "model",
            artifact_path=model["path"],
            digest=model["digest"],
            run_id=ch["train"]["run_id"],
            metrics={"roc_auc": ch["evaluate"]["metrics"]["roc_auc"]},
            verdict=True,
        )
        registry.promote(ws, "model", v, "champion", reason=f"round {i}")
    monitoring.record_history(ws, "monitor-1", [_verdict("b1", 0.1), _verdict("b2", 0.5)])
    monitoring.record_history(ws, "monitor-2", [_verdict("b3", 0.2)])
    target = f"{chains[1]['export']['run_id']}:model"
    got = answers(root, target)
    assert len(json.loads(got["runs --json --limit 0"])) == 12
    assert "round 1" in got["registry history model"]
    assert len(json.loads(got["monitoring history"])["batch"]) == 3
    lib = library_answers(ws, target)
    return root, target, got, lib


@pytest.fixture
def copy(golden, tmp_path) -> tuple[Workspace, str, dict[str, str], dict[str, str]]:
    root, target, got, lib = golden
    dest = tmp_path / "project"
    shutil.copytree(root, dest)
    return Workspace(dest), target, got, lib


def test_the_logs_not_the_index_hold_what_cannot_be_rebuilt(copy) -> None:
    ws, target, before, _ = copy
    # the registry's events and the monitoring history live in append-only logs
    assert ws.registry_log.stat().st_size > 0 and ws.monitoring_log.stat().st_size > 0
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ws.index_path}{suffix}").unlink(missing_ok=True)
    assert answers(ws.root, target) == before
    assert ws.index_path.exists()  # made again on the way


def _integrity(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        con.close()


def _root_page(path: Path, table: str) -> tuple[int, int]:
    con = sqlite3.connect(path)
    try:
        page_size = con.execute("PRAGMA page_size").fetchone()[0]
        (page,) = con.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    finally:
        con.close()
    return page, page_size


@pytest.mark.parametrize("where", ["header", "runs page", "registry page", "monitoring page"])
def test_a_corrupted_index_is_rebuilt_with_the_same_answers(copy, where) -> None:
    ws, target, cli_before, before = copy
    assert not Path(f"{ws.index_path}-wal").exists()  # checkpointed: the bytes are all in the file
    noise = random.Random(where).randbytes(4096)
    with open(ws.index_path, "r+b") as fh:
        if where == "header":
            fh.write(noise[:100])
        else:
            table = {
                "runs page": "runs",
                "registry page": "registry_alias_events",
                "monitoring page": "monitor_history",
            }[where]
            page, size = _root_page(ws.index_path, table)
            assert 1 < page < ws.index_path.stat().st_size // size  # a page in the middle
            fh.seek((page - 1) * size)
            fh.write(noise[:size])
    assert _integrity(ws.index_path) != "ok"  # really broken
    if where == "header":  # the CLI too, as a person would meet it
        p = nbtrail(ws.root, *QUERIES[0])
        assert (p.returncode, p.stdout) == (0, cli_before[" ".join(QUERIES[0])]), p.stderr
    assert library_answers(ws, target) == before
    assert _integrity(ws.index_path) == "ok"
    moved = list(ws.index_path.parent.glob("index.sqlite.corrupt-*"))
    assert len(moved) == 1  # kept for a post-mortem, out of the way


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
con.execute("CREATE TABLE IF NOT EXISTS holder_was_here (x)")
print("held", flush=True)
sys.stdin.read()  # until the test closes our stdin
con.execute("ROLLBACK")
"""


def test_an_index_locked_by_another_process(copy, monkeypatch) -> None:
    ws, _, before, _ = copy
    monkeypatch.setenv(db.BUSY_ENV, "700")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(ws.index_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        # reads answer while the lock is held (WAL: readers never wait for a writer)
        listing = nbtrail(ws.root, "runs", "--json", "--limit", "0")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout == before["runs --json --limit 0"]
        # a run recorded meanwhile: its record is written, its index row cannot be
        f = Factory(ws, start=1000)
        late = f.write(f.record("train", params={"C": 9.0}))
        t0 = time.monotonic()
        with pytest.raises(Busy) as caught:
            index.upsert(ws, late)
        assert 0.6 < time.monotonic() - t0 < 30  # waited the busy timeout, then gave up
        assert str(holder.pid) in str(caught.value) and "index.sqlite" in str(caught.value)
        # a listing that must bring the index in step: one line, exit 10
        p = nbtrail(ws.root, "runs")
        assert p.returncode == 10, (p.stdout, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert lines[0].startswith("nbtrail: error: ") and "index.sqlite is locked" in lines[0]
        assert f"process {holder.pid}" in lines[0] and "nothing was lost" in lines[0]
        with pytest.raises(Busy):  # `nbtrail index rebuild`'s library call (exit 10 likewise)
            index.rebuild(ws)
    finally:
        holder.stdin.close()
        holder.wait(10)
    # released: nothing was lost, the next listing sees every run
    listed = {r.run_id for r in index.query_runs(ws, limit=None)}
    on_disk = {p.name for p in ws.runs_dir.iterdir()}
    assert listed == on_disk and late["run_id"] in listed
    assert _integrity(ws.index_path) == "ok"


def _age(path: Path) -> None:
    old = time.time_ns() - 60_000_000_000
    os.utime(path, ns=(old, old))


def test_bad_run_folders_are_reported_and_the_rest_listed(copy) -> None:
    ws, _, before, _ = copy
    good = {r["run_id"] for r in json.loads(before["runs --json --limit 0"])}
    f = Factory(ws, start=2000)

    def folder_with(text: str, run_id: str | None = None) -> str:
        run_id = run_id or f.record("train")["run_id"]
        ws.run_dir(run_id).mkdir(parents=True)
        (ws.run_dir(run_id) / records.RECORD_FILE).write_text(text)
        return run_id

    full = json.dumps(f.record("train"))
    truncated = folder_with(full[: len(full) // 2])
    not_json = folder_with("this is not JSON")
    invalid = f.record("train")
    invalid["status"] = "exploded"
    schema_invalid = folder_with(json.dumps(invalid), invalid["run_id"])
    no_record = f.record("train")["run_id"]
    ws.run_dir(no_record).mkdir()
    (ws.run_dir(no_record) / "source.ipynb").write_text("{}")
    _age(ws.run_dir(no_record))
    malformed = f.write(f.record("evaluate"))["run_id"]
    (ws.root / f"workspace/runs/{malformed}/evaluate.ipynb").write_bytes(b"\x00garbage{")
    chain = f.chain(C=7.0)
    lost = chain["train"]
    (ws.root / lost["notebook"]["executed"]).unlink()
    (ws.root / lost["outputs"]["model"]["path"]).unlink()
    listed_ok = good | {malformed} | {r["run_id"] for r in chain.values()}

    p = nbtrail(ws.root, "runs", "--json", "--limit", "0")
    assert p.returncode == 0, p.stderr
    listed = {r["run_id"] for r in json.loads(p.stdout)}
    assert listed == listed_ok
    assert not listed & {truncated, not_json, schema_invalid, no_record}
    assert "4 run folder(s) have an invalid or missing record" in p.stderr
    assert "2 listed run(s) miss files or have a malformed notebook" in p.stderr

    p = nbtrail(ws.root, "index", "problems", "--json")
    assert p.returncode == 0, p.stderr
    found = {(Path(x["path"]).parent.name, x["problem"], x["listed"]) for x in json.loads(p.stdout)}
    problem = {(folder, listed): text for folder, text, listed in found}
    assert "not JSON" in problem[(truncated, False)]
    assert "not JSON" in problem[(not_json, False)]
    assert "invalid at status" in problem[(schema_invalid, False)]
    assert "missing" in problem[(no_record, False)]
    assert "malformed" in problem[(malformed, True)]
    lost_problems = sorted(t for d, t, listed in found if d == lost["run_id"])
    assert lost_problems == [
        f"executed notebook {lost['notebook']['executed']} is missing",
        f"output 'model' ({lost['outputs']['model']['path']}) is missing",
    ]
    assert len(found) == 7
    # a rebuild says the same, and validating every record in full finds nothing else
    trusted, verified = index.rebuild(ws), index.rebuild(ws, verify=True)
    assert trusted.problems == verified.problems and len(trusted.problems) == 7
    assert trusted.validated == 0 and verified.validated == verified.indexed
    # fixing a record is picked up without a rebuild
    (ws.run_dir(not_json) / records.RECORD_FILE).unlink()
    f.write(f.record("train", run_id=not_json))
    assert not_json in {r.run_id for r in index.query_runs(ws, limit=None)}
