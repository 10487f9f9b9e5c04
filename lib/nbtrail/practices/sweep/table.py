"""A sweep's members as a table, best first, the best marked ``*`` (numbers via humanize)."""

from __future__ import annotations

from nbtrail.core.humanize import human
from nbtrail.practices.sweep.record import Member, SweepRecord


def ranked(rec: SweepRecord) -> list[Member]:
    """Completed members by metric (best first), then the failed and interrupted ones."""
    sign = -1.0 if rec["direction"] == "maximize" else 1.0
    done = [m for m in rec["members"] if m["status"] == "completed" and m["metric"] is not None]
    rest = [m for m in rec["members"] if m not in done]
    done.sort(key=lambda m: (sign * float(m["metric"] or 0.0), m["member"]))
    return done + sorted(rest, key=lambda m: m["member"])


def format_table(rec: SweepRecord) -> str:
    """The header line, one row per member, and the best member's runs."""
    keys = list(rec["space"])
    metric = rec["metric"]
    head = ["", "MEMBER", *keys, metric, "STATUS", "RAN", "SECONDS"]
    rows = [head]
    for m in ranked(rec):
        ran = ",".join(m["executed"]) or "(all reused)"
        rows.append(
            [
                "*" if m["member"] == rec["best"] else "",
                str(m["member"]),
                *[human(m["values"].get(k)) for k in keys],
                human(m["metric"]),
                m["status"] if not m["reason"] else f"{m['status']}: {m['reason']}"[:60],
                ran,
                human(round(m["seconds"], 1)),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=True)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(
        0,
        f"sweep {rec['sweep_id']} ({rec['kind']}, {rec['direction']} {metric}): "
        f"{len(rec['members'])} member(s), {rec['status']}",
    )
    best = next((m for m in rec["members"] if m["member"] == rec["best"]), None)
    if best is not None:
        order = {s: i for i, s in enumerate(rec.get("stages", []))}
        runs = ", ".join(
            f"{s} {r}" for s, r in sorted(best["runs"].items(), key=lambda i: order.get(i[0], 99))
        )
        lines.append(f"best: member {best['member']} ({metric} = {human(best['metric'])}): {runs}")
    else:
        lines.append("best: none (no member completed with the metric)")
    for m in rec["members"]:
        if m.get("interrupted_runs"):
            lost = ", ".join(m.get("interrupted_runs", []))
            lines.append(f"member {m['member']}: attempts lost with their worker: {lost}")
    promo = rec.get("promotion")
    if promo:
        how = promo.get("decision") or promo.get("status")
        lines.append(
            f"promote-best: {how}" + (f" ({promo['reason']})" if promo.get("reason") else "")
        )
    if rec.get("note"):
        lines.append(f"note: {rec['note']}")
    return "\n".join(lines)
