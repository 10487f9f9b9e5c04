"""What the site shows, gathered from the index, the run folders, the registry and the
monitoring history. Only what runs recorded is read: records, their JSON outputs
(``ab_decision.json``, ``ab_offline.json``), registry events, monitoring rows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.record_types import RunRecord

REPORT_SUFFIXES = (".html", ".htm")
COPIED_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg", ".gif", ".json", ".csv", ".txt", ".md")
MAX_COPIED_BYTES = 512 * 1024  # larger outputs are listed with their hash, not copied


@dataclass(frozen=True)
class Selection:
    """Which runs the site shows: all, or those of ``stages``, plus the ``named`` runs,
    every pair of which gets a comparison page."""

    stages: tuple[str, ...] = ()
    named: tuple[str, ...] = ()


@dataclass
class SiteContent:
    """The runs in the site (newest first) and the facts of the index pages."""

    runs: list[RunRecord]
    named: list[str]
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def run_ids(self) -> set[str]:
        return {r["run_id"] for r in self.runs}

    def latest(self, stage: str, status: str | None = None) -> RunRecord | None:
        """The newest run of ``stage`` in the site (with ``status``, if given)."""
        for r in self.runs:
            if r["stage"] == stage and (status is None or r["status"] == status):
                return r
        return None


def gather(ws: Workspace, selection: Selection) -> SiteContent:
    """The runs to publish, each record read from its run folder; NotFound when none."""
    named = [index.resolve_run_id(ws, ref) for ref in selection.named]
    rows = index.query_runs(ws, limit=None)
    wanted = set(selection.stages)
    runs: list[RunRecord] = []
    for row in rows:
        if wanted and row.stage not in wanted and row.run_id not in named:
            continue
        try:
            runs.append(records.load(ws, row.run_id))
        except (NotFound, ValueError, OSError):
            continue
    if not runs:
        what = f" of stage {', '.join(selection.stages)}" if selection.stages else ""
        raise NotFound(f"no runs{what} to publish", hint="run the pipeline first: nbtrail run")
    problems = [(ws.relative(p.path), p.problem) for p in index.problems(ws)]
    return SiteContent(runs=runs, named=named, problems=problems)


def run_folder_rel(ws: Workspace, rec: RunRecord, path: str | None) -> str | None:
    """``path`` (from the workspace root) relative to the run's folder, if it lies inside."""
    if not path:
        return None
    folder = ws.run_dir(rec["run_id"]).resolve()
    p = (ws.root / path).resolve()
    if not p.is_relative_to(folder) or p == folder:
        return None
    return p.relative_to(folder).as_posix()


def copied_outputs(ws: Workspace, rec: RunRecord) -> dict[str, str]:
    """Output name -> its path relative to the run folder, for the outputs the site copies:
    reports (pages), and pictures and small text files; never models or bundles."""
    out = {}
    for name, art in rec["outputs"].items():
        rel = run_folder_rel(ws, rec, art.get("path"))
        if rel is None or art.get("kind") in ("model", "bundle", "dataset"):
            continue
        src = ws.run_dir(rec["run_id"]) / rel
        if not src.is_file():
            continue
        suffix = src.suffix.lower()
        if suffix in REPORT_SUFFIXES or (
            suffix in COPIED_SUFFIXES and src.stat().st_size <= MAX_COPIED_BYTES
        ):
            out[name] = rel
    return out


def read_json_output(ws: Workspace, rec: RunRecord | None, name: str) -> Any:
    """A JSON output of a run (``ab_decision``, ``ab_offline``), or None if absent or bad."""
    if rec is None or name not in rec["outputs"]:
        return None
    path = rec["outputs"][name].get("path")
    if not path:
        return None
    try:
        return json.loads((ws.root / path).read_text())
    except (OSError, ValueError):
        return None


def key_metrics(rec: RunRecord, n: int = 4) -> list[tuple[str, Any]]:
    """The metrics the stage summarised (``extra.summary.metrics``), else its first ``n``."""
    summary = (rec.get("extra") or {}).get("summary")
    wanted = summary.get("metrics") if isinstance(summary, dict) else None
    if not isinstance(wanted, list) or not wanted:
        wanted = list(rec["metrics"])[:n]
    return [(k, rec["metrics"][k]) for k in wanted if k in rec["metrics"]]


def differing_params(runs: Sequence[RunRecord]) -> dict[str, set[str]]:
    """For each stage, the parameters whose value is not the same in all its runs."""
    values: dict[str, dict[str, set[str]]] = {}
    counts: dict[str, int] = {}
    for r in runs:
        counts[r["stage"]] = counts.get(r["stage"], 0) + 1
        for k, v in r["params"].items():
            values.setdefault(r["stage"], {}).setdefault(k, set()).add(
                json.dumps(v, sort_keys=True, default=str)
            )
    out: dict[str, set[str]] = {}
    for stage, params in values.items():
        out[stage] = (
            {k for k, seen in params.items() if len(seen) > 1 or _missing_somewhere(k, stage, runs)}
            if counts[stage] > 1
            else set()
        )
    return out


def _missing_somewhere(key: str, stage: str, runs: Sequence[RunRecord]) -> bool:
    return any(r["stage"] == stage and key not in r["params"] for r in runs)


def consecutive_pairs(runs: Sequence[RunRecord]) -> list[tuple[RunRecord, RunRecord]]:
    """For each stage, each run with the one before it (oldest first)."""
    by_stage: dict[str, list[RunRecord]] = {}
    for r in sorted(runs, key=lambda r: (r["started"], r["run_id"])):
        by_stage.setdefault(r["stage"], []).append(r)
    return [(a, b) for rs in by_stage.values() for a, b in zip(rs, rs[1:], strict=False)]


def named_pairs(named: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair of the runs named with ``--run``, in the order given."""
    uniq = list(dict.fromkeys(named))
    return [(a, b) for i, a in enumerate(uniq) for b in uniq[i + 1 :]]


def executed_notebook(ws: Workspace, rec: RunRecord) -> Path | None:
    """The run's executed notebook (None when the record names none)."""
    executed = rec["notebook"].get("executed")
    return ws.root / executed if executed else None
