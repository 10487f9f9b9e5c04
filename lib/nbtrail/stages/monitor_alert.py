"""The monitor stage's alert: a failed verdict POSTed to ``alert_url`` (the stage parameter, or
``nbtrail run --alert-url``), the delivery recorded in the run whatever became of it.

A delivery that fails is recorded (``extra.alert`` of the run record: tries, HTTP status,
reason), printed and named in ``nbtrail run``'s summary; it never raises, so the run still
ends with the verdict's exit code (8 when a real batch failed, 0 when the demo's verdicts
were the expected ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbtrail.notebook.run import Run
from nbtrail.practices import monitoring as mon
from nbtrail.runs.records import RECORD_FILE
from nbtrail.runs.runfolder import OUTPUTS_DIR, SOURCE_COPY
from nbtrail.stages.demo_batches import DEMO

ALERT_NOTE = "alert"  # where the delivery is kept in the run record's ``extra``


def run_links(run: Run, verdicts: Sequence[mon.Verdict]) -> dict[str, Any]:
    """Paths a person receiving the alert opens: the run folder, its record, the executed
    notebook and each batch's report (those saved)."""
    outputs = run.dir / OUTPUTS_DIR
    reports = {
        v.batch: str(outputs / f"drift_{v.batch}.html")
        for v in verdicts
        if (outputs / f"drift_{v.batch}.html").is_file()
    }
    executed = sorted(p for p in run.dir.glob("*.ipynb") if p.name != SOURCE_COPY)
    return {
        "run_dir": str(run.dir),
        "record": str(run.dir / RECORD_FILE),
        "notebook": str(executed[0]) if executed else None,
        "reports": reports,
    }


def send_alert(
    run: Run, verdicts: Sequence[mon.Verdict], *, url: str | None, batch: str
) -> dict[str, Any]:
    """POST the run's verdict to ``url`` when a batch failed (demo batches too, marked
    ``demo``: a way to try a webhook); the delivery recorded in the run and printed."""
    if run.reproduces is not None:  # the original run already alerted (or did not)
        alert: dict[str, Any] = {
            "url": url or None,
            "failed_batches": [v.batch for v in verdicts if not v.passed],
            "sent": False,
            "delivered": False,
            "reason": f"a reproduction of {run.reproduces} sends no alert",
        }
    else:
        links = run_links(run, verdicts)
        alert = mon.send_alert(url, verdicts, run_id=run.run_id, links=links, demo=batch == DEMO)
    run.note(ALERT_NOTE, alert)
    print(mon.alert_line(alert))
    return alert


def alert_lines(run: Run, *, sent_only: bool = False) -> list[str]:
    """The alert's line for ``nbtrail run``'s summary (none when no alert step ran;
    ``sent_only``: none either when no POST was tried), also put in the VerdictFailed
    message so a failed delivery shows when the stage fails."""
    alert = run.state.get("extra", {}).get(ALERT_NOTE)
    if not isinstance(alert, dict) or (sent_only and not alert.get("sent")):
        return []
    return [mon.alert_line(alert)]
