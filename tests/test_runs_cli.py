"""The query verbs' wiring: arguments reach the library, output formats, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _records import Factory

from nbtrail import cli

LIB = Path(__file__).resolve().parents[1] / "lib"


@pytest.fixture
def chains(ws):
    f = Factory(ws)
    return f, f.chain(C=1.0, auc=0.95), f.chain(C=0.5, auc=0.97, data_ref="default@2")


def run(ws, capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(["-C", str(ws.root), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_filters_sort_and_json(ws, chains, capsys) -> None:
    _, a, b = chains
    code, out, _ = run(ws, capsys, "runs", "--stage", "evaluate", "--sort", "roc_auc")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["RUN", "STATUS"]
    assert [ln.split()[0] for ln in lines[1:]] == [b["evaluate"]["run_id"], a["evaluate"]["run_id"]]
    assert "roc_auc=0.97" in lines[1]
    code, out, _ = run(ws, capsys, "runs", "--param", "C=0.5", "--json")
    rows = json.loads(out)
    assert [r["run_id"] for r in rows] == [b["train"]["run_id"]]
    assert rows[0]["params"] == {"C": 0.5, "seed": 0}
    code, out, _ = run(ws, capsys, "runs", "--metric", "roc_auc>0.96", "--json")
    assert [r["run_id"] for r in json.loads(out)] == [b["evaluate"]["run_id"]]
    code, out, _ = run(ws, capsys, "runs", "--limit", "2", "--json")
    assert len(json.loads(out)) == 2
    code, out, _ = run(ws, capsys, "runs", "--stage", "nothing")
    assert code == 0 and out.strip() == "no runs match"


def test_bad_filters_exit_with_parameter_error(ws, chains, capsys) -> None:
    code, _, err = run(ws, capsys, "runs", "--metric", "roc_auc~0.9")
    assert code == 3 and err.startswith("nbtrail: error: bad metric filter")
    code, _, err = run(ws, capsys, "runs", "--param", "C")
    assert code == 3 and "bad --param" in err


def test_show_diff_lineage_impact(ws, chains, capsys) -> None:
    _, a, b = chains
    tid = b["train"]["run_id"]
    code, out, _ = run(ws, capsys, "show", tid)
    assert code == 0 and f"run:         {tid}" in out and "C = 0.5" in out
    code, out, _ = run(ws, capsys, "show", "train", "--json")
    assert json.loads(out)["run_id"] == tid
    code, _, err = run(ws, capsys, "show", "nosuch")
    assert code == 9 and "no run 'nosuch'" in err

    code, out, _ = run(ws, capsys, "diff", a["train"]["run_id"], tid)
    assert code == 0 and "C: 1.0 -> 0.5" in out
    code, out, _ = run(ws, capsys, "diff", a["train"]["run_id"], tid, "--json")
    assert json.loads(out)["b"] == tid

    code, out, _ = run(ws, capsys, "lineage", f"{b['export']['run_id']}:model")
    assert code == 0 and "default@2" in out and "C=0.5" in out
    code, out, _ = run(ws, capsys, "lineage", "evaluate:roc_auc", "--json")
    assert json.loads(out)["target"].startswith("metric:")
    code, out, _ = run(ws, capsys, "lineage", tid, "--dot")
    assert out.startswith("digraph lineage {")

    code, out, _ = run(ws, capsys, "impact", "default@1")
    assert code == 0 and a["export"]["run_id"] in out and b["export"]["run_id"] not in out
    code, out, _ = run(ws, capsys, "impact", "default@1", "--dot")
    assert out.startswith("digraph")


def test_index_rebuild_reports_invalid_records_and_listing_survives(ws, chains, capsys) -> None:
    f, _, _ = chains
    bad = f.record("train")
    bad["metrics"] = {"roc_auc": "high"}
    folder = ws.run_dir(bad["run_id"])
    folder.mkdir(parents=True)
    (folder / "record.json").write_text(json.dumps(bad))
    code, out, _ = run(ws, capsys, "index", "rebuild")
    assert code == 0
    assert "indexed 8 run(s)" in out
    assert f"workspace/runs/{bad['run_id']}/record.json: invalid at metrics/roc_auc" in out
    code, out, err = run(ws, capsys, "runs", "--limit", "0")
    assert code == 0 and len(out.splitlines()) == 1 + 8
    assert "1 run folder(s) have an invalid or missing record" in err


def test_cli_as_a_process(ws, chains) -> None:
    """The real entry point, in its own process."""
    _, _, b = chains
    from nbtrail.runs import index

    index.rebuild(ws)  # spares the child importing jsonschema (seconds on a busy machine)
    env = dict(os.environ, PYTHONPATH=str(LIB))
    proc = subprocess.run(
        [sys.executable, "-m", "nbtrail", "runs", "--stage", "train", "--json"],
        cwd=ws.root / "workspace",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["run_id"] == b["train"]["run_id"]
