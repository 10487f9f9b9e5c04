"""The run summary is built from what each stage recorded, with numbers formatted for people."""

from __future__ import annotations

from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.runner import StageResult
from nbtrail.pipeline.summary import format_summary, human


def test_numbers_are_formatted_for_people():
    assert human(120000) == "120,000"
    assert human(120000.0) == "120,000"
    assert human(0.912345) == "0.9123"
    assert human(None) == "-"
    assert human(1234.56) == "1,234.6"


def test_the_summary_shows_what_the_stage_named_and_its_lines(tmp_path):
    ws = Workspace(tmp_path)
    r = StageResult(
        stage="evaluate",
        status="completed",
        run_id="evaluate-20261203T000000-abcdef",
        seconds=1.25,
        metrics={"rows_train": 120000, "roc_auc": 0.98765, "secret_metric": 1.0},
        extra={"summary": {"metrics": ["rows_train", "roc_auc", "absent"], "lines": ["A/B: x"]}},
    )
    text = format_summary([r], ws)
    assert "rows_train=120,000, roc_auc=0.9877" in text
    assert "secret_metric" not in text and "absent" not in text
    assert "A/B: x" in text and "1.2s" in text


def test_a_stage_that_named_nothing_shows_its_first_four_metrics(tmp_path):
    r = StageResult(stage="x", status="completed", metrics={f"m{i}": i for i in range(6)})
    text = format_summary([r], Workspace(tmp_path))
    assert "m0=0, m1=1, m2=2, m3=3" in text and "m4" not in text
