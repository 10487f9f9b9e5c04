"""One run in detail (its lineage tree, verdicts, metrics, links to its executed notebook and
reports) and two runs side by side (:func:`nbtrail.runs.rundiff.diff`), as HTML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, lineage, records, rundiff
from nbtrail.runs.record_types import RunRecord
from nbtrail.runs.runfolder import STATE_FILE
from nbtrail.widgets import html as h

DIFF_SECTIONS = ("stage", "params", "inputs", "notebook", "git", "environment", "outputs")


def recorded(ws: Workspace, ref: str) -> RunRecord:
    """The record of run ``ref`` with what it recorded so far: a run the runner is still
    executing keeps its outputs, metrics and verdicts in ``state.json`` until it ends (so a
    stage notebook can show its own run)."""
    rec = records.load(ws, index.resolve_run_id(ws, ref))
    state = ws.run_dir(rec["run_id"]) / STATE_FILE
    if rec["status"] == "running" and state.is_file():
        so_far = json.loads(state.read_text())
        for key in ("outputs", "metrics", "verdicts"):
            rec[key] = so_far.get(key) or rec[key]
    return rec


def _value(v: Any) -> Any:
    if isinstance(v, dict | list):
        text = json.dumps(v, sort_keys=True, default=str)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v):
        return v[:12]  # a digest: its prefix is enough to tell two apart
    return v


def links(ws: Workspace, rec: RunRecord, *, start: Path | None = None) -> list[str]:
    """Links to the run's executed notebook and its reports (those that exist)."""
    out = []
    executed = rec["notebook"].get("executed")
    if executed and (ws.root / executed).is_file():
        out.append(
            h.link(ws.root / executed, f"executed notebook ({Path(executed).name})", start=start)
        )
    for name, art in sorted(rec["outputs"].items()):
        path = art.get("path")
        if art["kind"] == "report" and path and (ws.root / path).is_file():
            out.append(h.link(ws.root / path, f"report {name}", start=start))
    return out


def verdict_rows(rec: RunRecord) -> list[list[Any]]:
    """One row per verdict: name, pass/FAIL (coloured) and its details."""
    rows = []
    for name, v in sorted(rec["verdicts"].items()):
        passed = bool(v.get("passed"))
        mark = h.colored("pass", h.VERDICT_COLORS["pass"] if passed else h.VERDICT_COLORS["fail"])
        if not passed:
            mark = h.colored("FAIL", h.VERDICT_COLORS["fail"])
        detail = ", ".join(f"{k}={_value(x)}" for k, x in v.items() if k != "passed")
        rows.append([name, mark, detail])
    return rows


def run_html(ws: Workspace, run_id: str, *, start: Path | None = None) -> str:
    """Everything about one run a person looks at first."""
    rec = recorded(ws, run_id)
    secs = rec.get("duration_s")
    parts = [
        h.heading(f"run {rec['run_id']}"),
        "<div>"
        + f"stage {h.esc(rec['stage'])} · {h.status(records.effective_status(rec))} · "
        + f"{h.esc(rec['origin'])} · started {h.esc(rec['started'][:19].replace('T', ' '))}"
        + (f" · {h.esc(round(secs, 1))} s" if secs is not None else "")
        + "</div>",
    ]
    found = links(ws, rec, start=start)
    if found:
        parts.append("<div>" + " · ".join(found) + "</div>")
    err = rec.get("error")
    if err:
        parts.append(h.error(f"{err['ename']}: {err['evalue']} (cell {err.get('cell')})"))
    if rec["verdicts"]:
        parts += [
            h.heading("verdicts", 5),
            h.table(["verdict", "", "detail"], verdict_rows(rec), raw=[1]),
        ]
    if rec["metrics"]:
        rows = [[k, v] for k, v in sorted(rec["metrics"].items())]
        parts += [h.heading("metrics", 5), h.table(["metric", "value"], rows)]
    parts += [
        h.heading("lineage", 5),
        h.pre(lineage.render_tree(lineage.upstream(ws, rec["run_id"]))),
    ]
    return "".join(parts)


def _delta(v: Any) -> str | None:
    return None if v is None else f"{v:+.4g}"


def diff_html(ws: Workspace, a: str, b: str, *, all_fields: bool = False) -> str:
    """Two runs compared: each section's differing fields (a, b; identical fields counted),
    and the metrics with their deltas ``b - a``."""
    d = rundiff.diff(ws, a, b)
    parts = [h.heading(f"a: {d['a']}  ·  b: {d['b']}")]
    alike = []
    for section in (*DIFF_SECTIONS, "extra"):
        rows = d[section]
        changed = [r for r in rows if not r["same"]]
        if not changed and not all_fields:
            if rows:
                alike.append(f"{section} ({len(rows)})")
            continue
        shown = rows if all_fields else changed
        title = f"{section}: {len(changed)} differ"
        if len(rows) > len(changed):
            title += f", {len(rows) - len(changed)} identical"
        cells = [[r["field"], _value(r["a"]), _value(r["b"])] for r in shown]
        marked = [i for i, r in enumerate(shown) if not r["same"]]
        parts += [h.heading(title, 5), h.table(["field", "a", "b"], cells, marked=marked)]
    if alike:
        parts.append(h.para(f"identical: {', '.join(alike)}", muted=True))
    parts.append(h.heading("metrics", 5))
    if d["metrics"]:
        cells = [[r["field"], r["a"], r["b"], _delta(r["delta"])] for r in d["metrics"]]
        marked = [i for i, r in enumerate(d["metrics"]) if not r["same"]]
        parts.append(h.table(["metric", "a", "b", "b - a"], cells, marked=marked))
    else:
        parts.append(h.para("(none)", muted=True))
    return "".join(parts)
