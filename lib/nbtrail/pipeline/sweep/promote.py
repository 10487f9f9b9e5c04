"""After the members: each member's lost attempts named, and ``--promote-best``, the best
member's values run once more on the pipeline's own parameters, so the usual evaluate gates
and A/B against the champion decide about promotion (never the sweep)."""

from __future__ import annotations

from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.sweep.context import Sweep
from nbtrail.practices.sweep.record import SweepRecord


def note_lost_attempts(ws: Workspace, rec: SweepRecord) -> None:
    """Each member's runs that it does not use in the end (an attempt lost with its worker,
    retried elsewhere): they stay in the workspace and the index, and are named here."""
    from nbtrail.runs import index, records

    by_member: dict[int, list[str]] = {}
    for row in index.query_runs(ws, sweep=rec["sweep_id"], limit=None):
        tag = records.load(ws, row.run_id).get("extra", {}).get("sweep", {})
        if isinstance(tag.get("member"), int):
            by_member.setdefault(tag["member"], []).append(row.run_id)
    for m in rec["members"]:
        lost = sorted(set(by_member.get(m["member"], [])) - set(m["runs"].values()))
        if lost:
            m["interrupted_runs"] = lost


def promote_best(sw: Sweep) -> None:
    """Run the best member's swept values without the spec's fixed ``params`` (those are for
    members only, e.g. their own model name) and record the A/B decision it met."""
    from nbtrail.runs import records

    ws, rec = sw.ws, sw.rec
    best = next((m for m in rec["members"] if m["member"] == rec["best"]), None)
    if best is None:
        rec["promotion"] = {"status": "skipped", "reason": "no member completed"}
        sw.save()
        return
    sw.say(f"promote-best: member {best['member']}'s values through the usual gates and A/B")
    out = sw.run_one(sw.task(dict(best["values"]), role="promote"))
    decision: dict[str, Any] = {}
    for run_id in out.runs.values():
        decision = records.load(ws, run_id).get("extra", {}).get("ab_decision") or decision
    rec["promotion"] = {
        "member": best["member"],
        "status": out.status,
        "runs": out.runs,
        "decision": decision.get("decision"),
        "reason": out.reason or decision.get("reason"),
    }
    sw.save()
