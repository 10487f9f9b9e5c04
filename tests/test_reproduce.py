"""`nbtrail reproduce`'s comparison, without a kernel: outputs declared ``reproducible: false``
in the record (validated by the schema), reported as expected to differ with their reason.

The reproduction of every stage of the default pipeline, with real kernels, is in
``tests/test_e2e.py`` (it reuses that module's pipeline run)."""

from __future__ import annotations

import os

import nbformat
import pytest
from _records import Factory, artifact

from nbtrail.commands.reproduce import report_lines
from nbtrail.core.errors import ParameterError, RecordInvalid
from nbtrail.notebook.run import Run
from nbtrail.pipeline.reproduce import Reproduction, compare_output
from nbtrail.runs import records

WHY = "drawn from the workspace's history, which grows with every run"


def _declared(digest: str, reason: str | None = WHY) -> dict:
    art = artifact("history", "file", digest, path="workspace/runs/x/outputs/history.png")
    art["reproducible"] = False
    if reason is not None:
        art["reason"] = reason
    return art


def test_the_schema_takes_a_declared_output_and_wants_its_reason(ws):
    factory = Factory(ws)
    plain = factory.record("monitor", outputs={"report": artifact("report", "report", "d1")})
    records.validate(plain)  # records written before the field existed stay valid
    declared = factory.record("monitor", outputs={"history": _declared("d2")})
    records.validate(declared)
    for bad in (
        _declared("d3", reason=None),
        _declared("d3", reason=""),
        {**_declared("d3"), "reproducible": "no"},
    ):
        with pytest.raises(RecordInvalid, match="outputs/history"):
            records.validate(factory.record("monitor", outputs={"history": bad}))
    true = {**artifact("h", "file", "d4"), "reproducible": True}  # said, not needed
    records.validate(factory.record("monitor", outputs={"h": true}))


@pytest.mark.parametrize(
    ("original", "reproduced", "same", "expected"),
    [
        (artifact("o", "file", "a"), artifact("o", "file", "a"), True, False),
        (artifact("o", "file", "a"), artifact("o", "file", "b"), False, False),
        (_declared("a"), _declared("b"), False, True),
        (artifact("o", "file", "a"), _declared("b"), False, True),  # today's library knows
        (_declared("a"), artifact("o", "file", "b"), False, True),
        (_declared("a"), _declared("a"), True, False),  # declared, and came out the same
        (_declared("a"), None, False, False),  # an output gone is a difference, declared or not
        (None, _declared("b"), False, False),
    ],
)
def test_an_output_may_differ_only_as_declared(original, reproduced, same, expected):
    o = compare_output("o", original, reproduced)
    assert (o.same, o.expected_to_differ, o.ok) == (same, expected, same or expected)
    assert (o.expected_reason == WHY) if expected else True


def _reproduction(factory: Factory, *, metric_now: float) -> Reproduction:
    was = factory.record("monitor", metrics={"batches": 4.0})
    now = factory.record("monitor", metrics={"batches": metric_now}, origin="reproduce")
    rep = Reproduction(original=was, new=now)  # type: ignore[arg-type]
    rep.metrics.append(("batches", 4.0, metric_now, metric_now == 4.0))
    rep.outputs.append(
        compare_output(
            "drift_clean", artifact("r", "report", "e" * 64), artifact("r", "report", "e" * 64)
        )
    )
    rep.outputs.append(compare_output("history", _declared("a" * 64), _declared("b" * 64)))
    return rep


def test_the_report_says_expected_to_differ_with_the_reason_and_stays_identical(ws):
    rep = _reproduction(Factory(ws), metric_now=4.0)
    assert rep.identical and [o.name for o in rep.expected_differences] == ["history"]
    lines = report_lines(rep)
    history = next(i for i, line in enumerate(lines) if line.lstrip().startswith("output history"))
    assert lines[history].endswith("  expected to differ")
    assert lines[history + 1] == f"    why: {WHY}"
    assert any(line.endswith("  same") and "drift_clean" in line for line in lines)
    assert lines[-1] == "identical, but for 1 output expected to differ (see why above)"
    out = rep.to_dict()["outputs"]
    assert out[1] == {
        "name": "history",
        "original": "a" * 64,
        "reproduced": "b" * 64,
        "same": False,
        "expected_to_differ": True,
        "reason": WHY,
    }
    assert out[0]["expected_to_differ"] is False and "reason" not in out[0]


def test_a_changed_metric_still_fails_beside_an_expected_difference(ws):
    rep = _reproduction(Factory(ws), metric_now=5.0)
    assert not rep.identical
    assert report_lines(rep)[-1] == "not identical"


def test_save_file_records_the_declaration_and_refuses_an_empty_reason(ws):
    notebook = ws.root / "notebooks" / "05_monitor.ipynb"
    notebook.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    run_id = records.new_run_id("monitor")
    record = records.new_record(
        ws,
        run_id=run_id,
        stage="monitor",
        origin="interactive",
        params={},
        notebook=notebook,
        upstream={},
        pid=os.getpid(),
    )
    records.write(ws, record)
    run = Run(
        ws=ws, stage="monitor", run_id=run_id, params={}, upstream={}, managed=False, record=record
    )
    plot = run.output_path("history.png")
    plot.write_bytes(b"\x89PNG not really")
    with pytest.raises(ParameterError, match="needs a reason"):
        run.save_file("history", plot, expected_to_differ="  ")
    run.save_file("history", plot, expected_to_differ=WHY)
    run.save_file("plain", plot)
    saved = records.load(ws, run_id)["outputs"]  # written through the schema's validation
    assert (saved["history"]["reproducible"], saved["history"]["reason"]) == (False, WHY)
    assert "reproducible" not in saved["plain"] and "reason" not in saved["plain"]


def test_thread_notes_tell_what_the_reproduction_ran_with(monkeypatch):
    from nbtrail.pipeline.reproduce import thread_notes

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    (old,) = thread_notes(None, {"cpus": 2, "env": {}})
    assert old.startswith("the original run's record is older than its thread settings")
    same = {"cpus": 2, "env": {"OMP_NUM_THREADS": "1"}}
    assert thread_notes(same, same) == []
    other = thread_notes({"cpus": 2, "env": {"OMP_NUM_THREADS": "4"}}, {"cpus": 8, "env": {}})
    assert other == [
        "ran with the original's thread settings: OMP_NUM_THREADS=4"
        " (this shell has OMP_NUM_THREADS=1)"
    ]  # OMP_NUM_THREADS fixes the pool's size: the CPU counts do not matter
    unset = thread_notes({"cpus": 2, "env": {}}, {"cpus": 8, "env": {}})
    assert (
        unset[0]
        == "ran with the original's thread settings: none set (this shell has OMP_NUM_THREADS=1)"
    )
    assert unset[1].startswith("the original ran on 2 CPUs without OMP_NUM_THREADS, this one on 8")
