"""The per-stage summary ``nbtrail run`` prints, built only from what each stage recorded.

A stage says what matters about it with ``run.summarize(metrics=[...], lines=[...])`` (kept in
its record as ``extra["summary"]``); the runner knows no stage's metric names. A stage that
summarised nothing shows its first four metrics. Numbers are formatted for people.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbtrail.core.humanize import human
from nbtrail.core.workspace import Workspace

if TYPE_CHECKING:
    from nbtrail.pipeline.runner import StageResult

PAD = " " * 29


def _summary(r: StageResult) -> dict[str, Any]:
    s = r.extra.get("summary")
    return s if isinstance(s, dict) else {}


def key_metrics(r: StageResult) -> list[str]:
    """``name=value`` for the metrics the stage named, else its first four."""
    wanted = _summary(r).get("metrics")
    if not isinstance(wanted, list) or not wanted:
        wanted = list(r.metrics)[:4]
    return [f"{k}={human(r.metrics[k])}" for k in wanted if k in r.metrics]


def _verdict_lines(r: StageResult) -> list[str]:
    if not r.verdicts:
        return []
    failed = [k for k, v in r.verdicts.items() if not v.get("passed")]
    text = f"verdicts: {len(r.verdicts) - len(failed)}/{len(r.verdicts)} passed"
    if failed:
        text += "; failed: " + ", ".join(failed[:5]) + (" ..." if len(failed) > 5 else "")
    lines = [text]
    for v in r.verdicts.values():
        if isinstance(v.get("summary"), str) and not v.get("passed"):
            lines.append("  " + v["summary"][:140])
    return lines


def stage_lines(r: StageResult, ws: Workspace) -> list[str]:
    """The lines under a stage's row: verdicts, what it summarised, reports, its run folder."""
    lines = _verdict_lines(r)
    lines += [str(x)[:160] for x in _summary(r).get("lines") or [] if str(x).strip()]
    lines += [f"report: {a['path']}" for a in r.artifacts.values() if a.get("kind") == "report"][:4]
    if r.run_id:
        lines.append(f"run folder: {r.outputs or ws.relative(ws.run_dir(r.run_id))}")
    if r.note and r.status not in ("completed", "cached"):
        lines.append(r.note)
    return lines


def format_summary(results: list[StageResult], ws: Workspace) -> str:
    """The per-stage table printed at the end of ``nbtrail run``."""
    lines = [f"{'stage':<10} {'status':<8} {'time':>7}  key metrics / verdicts"]
    for r in results:
        status = {"cached": "reused", "completed": "ran"}.get(r.status, r.status)
        t = f"{r.seconds:.1f}s" if r.status == "completed" else "-"
        lines.append(f"{r.stage:<10} {status:<8} {t:>7}  {', '.join(key_metrics(r)) or '-'}")
        lines += [PAD + line for line in stage_lines(r, ws)]
    return "\n".join(lines)
