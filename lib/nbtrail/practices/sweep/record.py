"""A sweep's own record, ``workspace/sweeps/<sweep_id>.json``: the spec, every member's values,
status, metric and the runs it used (executed or reused), and the best member.

It is rewritten atomically after each member ends, so an interrupted sweep leaves a true
record of what finished. The runs themselves keep their ordinary records; the ones a member
executed carry ``extra.sweep = {"id", "member"}``, which the run index files under
``nbtrail runs --sweep ID``.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict

from nbtrail.core import atomic
from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace

MemberStatus = Literal["completed", "failed", "interrupted"]
SweepStatus = Literal["running", "completed", "interrupted", "failed"]


class Member(TypedDict):
    """One member: its swept values, how it ended, its metric and the runs it used."""

    member: int
    values: dict[str, Any]
    status: MemberStatus
    metric: float | None
    runs: dict[str, str]  # stage -> run id (executed or reused)
    executed: list[str]  # the stages this member executed (the rest were reused)
    seconds: float
    worker: str | None
    reason: str | None
    interrupted_runs: NotRequired[list[str]]


class SweepRecord(TypedDict):
    schema_version: int
    sweep_id: str
    name: str
    spec: str
    kind: str
    metric: str
    direction: str
    space: dict[str, Any]
    params: dict[str, Any]
    stages: list[str]
    prefix: dict[str, str]  # the shared upstream stages, run once before the members
    executor: dict[str, Any]
    status: SweepStatus
    started: str
    ended: str | None
    members: list[Member]
    best: int | None
    note: str | None
    promotion: NotRequired[dict[str, Any]]  # --promote-best: how the best member fared


def new_sweep_id(name: str) -> str:
    """``sweep-<name>-<UTC stamp>-<4 hex digits>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"sweep-{name}-{stamp}-{secrets.token_hex(2)}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def path_of(ws: Workspace, sweep_id: str) -> Path:
    return ws.sweeps_dir / f"{sweep_id}.json"


def best_member(rec: SweepRecord) -> int | None:
    """The completed member with the best metric (the first of equals), or None."""
    best: Member | None = None
    for m in sorted(rec["members"], key=lambda m: m["member"]):
        if m["status"] != "completed" or m["metric"] is None:
            continue
        if best is None or _beats(m["metric"], best["metric"], rec["direction"]):
            best = m
    return best["member"] if best else None


def _beats(a: float, b: float | None, direction: str) -> bool:
    if b is None:
        return True
    return a > b if direction == "maximize" else a < b


def write(ws: Workspace, rec: SweepRecord) -> Path:
    """Mark the best member, then write the record atomically."""
    rec["best"] = best_member(rec)
    path = path_of(ws, rec["sweep_id"])
    atomic.write_json(path, rec)
    return path


def load(ws: Workspace, ref: str) -> SweepRecord:
    """The record of sweep ``ref``: an id, a unique prefix, or ``latest``."""
    ids = list_ids(ws)
    if ref == "latest" and ids:
        ref = ids[-1]
    hits = [i for i in ids if i == ref] or [i for i in ids if i.startswith(ref)]
    if len(hits) != 1:
        what = "is ambiguous" if hits else "not found"
        raise NotFound(
            f"sweep {ref!r} {what}", hint="see workspace/sweeps/ or `nbtrail sweep show latest`"
        )
    rec: SweepRecord = json.loads(path_of(ws, hits[0]).read_text())
    return rec


def list_ids(ws: Workspace) -> list[str]:
    """Every sweep id, oldest first (ids sort by their UTC stamp)."""
    if not ws.sweeps_dir.is_dir():
        return []
    found = [p.stem for p in ws.sweeps_dir.glob("sweep-*.json")]
    return sorted(found, key=lambda i: (i.rsplit("-", 2)[-2], i))
