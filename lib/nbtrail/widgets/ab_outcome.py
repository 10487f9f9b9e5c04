"""``ab``'s view logic: an evaluate run's A/B outcome from what it saved (``ab_offline``,
``ab_decision``, ``ab_online`` and ``evaluation`` outputs, the ``evidently_ab`` report),
as HTML sections and pictures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.practices import abtest as ab
from nbtrail.widgets import html as h
from nbtrail.widgets.run_detail import recorded

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

OUTPUTS = ("ab_offline", "ab_decision", "ab_online", "evaluation")
REPORT = "evidently_ab"
DECISION_COLORS = {"promote": "#1a7f37", "keep_champion": "#9a6700", "inconclusive": "#444"}


@dataclass(frozen=True)
class Outcome:
    """What an evaluate run saved about its A/B comparison (None where it saved nothing)."""

    run_id: str
    offline: dict[str, Any]
    decision: dict[str, Any] | None
    online: dict[str, Any] | None
    evaluation: dict[str, Any] | None
    report: Path | None


def load(ws: Workspace, ref: str) -> Outcome:
    """The A/B outcome of run ``ref`` (an id, a prefix or a stage name: its latest run)."""
    rec = recorded(ws, ref)
    found: dict[str, Any] = {}
    for name in OUTPUTS:
        art = rec["outputs"].get(name)
        path = ws.root / str(art.get("path")) if art and art.get("path") else None
        found[name] = json.loads(path.read_text()) if path and path.is_file() else None
    if found["ab_offline"] is None:
        raise NotFound(
            f"run {rec['run_id']} ({rec['stage']}, {rec['status']}) saved no A/B comparison "
            "(output ab_offline)",
            hint="ab() shows an evaluate run: widgets.ab('evaluate') is the latest",
        )
    art = rec["outputs"].get(REPORT)
    report = ws.root / str(art["path"]) if art and art.get("path") else None
    return Outcome(
        run_id=rec["run_id"],
        offline=found["ab_offline"],
        decision=found["ab_decision"],
        online=found["ab_online"],
        evaluation=found["evaluation"],
        report=report if report and report.is_file() else None,
    )


def frame_table(frame: pd.DataFrame) -> str:
    """A DataFrame (its index as the first column) as an HTML table."""
    name = frame.index.name or ""
    rows = [
        [idx, *row] for idx, row in zip(frame.index, frame.itertuples(index=False), strict=True)
    ]
    return h.table([name, *map(str, frame.columns)], rows)


def decision_html(o: Outcome) -> str:
    """The decision, its reason, the opponent and what the registry did."""
    d = o.decision or {k: o.offline.get(k) for k in ("decision", "reason", "opponent")}
    verdict = str(d.get("decision"))
    parts = [
        h.heading(f"A/B outcome of run {o.run_id}"),
        "<div>decision: " + h.colored(verdict, DECISION_COLORS.get(verdict, "#444"))
        + (f" against {h.esc(d['opponent'])}" if d.get("opponent") else "") + "</div>",
        f"<div>{h.esc(d.get('reason'))}</div>",
    ]  # fmt: skip
    registry = (o.decision or {}).get("registry") or {}
    if registry.get("registered"):
        promoted = ", promoted to champion" if registry.get("promoted") else ""
        parts.append(h.para(f"registered {registry['name']}@{registry['version']}{promoted}"))
    if o.decision and o.decision.get("online_decision"):
        parts.append(
            h.para(f"the simulated online experiment says: {o.decision['online_decision']}")
        )
    return "".join(parts)


def effect_figure(o: Outcome) -> Figure:
    """Each metric's improvement with its interval (:func:`~nbtrail.practices.abtest.effect_plot`)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 1.0 + 0.45 * len(o.offline["metrics"])))
    ab.effect_plot(o.offline, ax=fig.subplots())
    return fig


def offline_html(o: Outcome, effect_png: bytes) -> str:
    """The paired tests: McNemar, each metric's difference with its interval, effect size,
    p-value and Holm-adjusted p-value, and the effect plot."""
    parts = [h.heading("offline, paired on the holdout", 5)]
    if "mcnemar" in o.offline:
        parts.append(h.para(ab.mcnemar_line(o.offline["mcnemar"])))
    parts.append(frame_table(ab.comparison_table(o.offline)))
    parts.append(h.img(effect_png, "effect sizes with intervals"))
    return "".join(parts)


def looks_figure(online: dict[str, Any]) -> Figure:
    """The online looks: the z statistic at each look against the group-sequential boundaries."""
    from matplotlib.figure import Figure

    design = online["plan"]["design"]
    fractions, bounds = design["fractions"], design["z_bounds"]
    fig = Figure(figsize=(7.5, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot(fractions, bounds, "--", color="tab:red", label="boundary")
    ax.plot(fractions, [-b for b in bounds], "--", color="tab:red")
    looks = online["looks"]
    ax.plot([x["fraction"] for x in looks], [x["z"] for x in looks], "o-", label="observed z")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xlabel("information fraction (share of the planned sample)")
    ax.set_ylabel("z")
    ax.set_title(f"online: {online['decision']} ({online['method']})", fontsize=9)
    ax.legend(loc="best", fontsize=8)
    return fig


def online_html(o: Outcome, looks_png: bytes) -> str:
    """The simulated online experiment: its plan, each look and its boundary, the decision."""
    if not o.online:
        return h.para("no online experiment (it needs a classifier)", muted=True)
    parts = [h.heading("simulated online experiment", 5), h.para(ab.plan_line(o.online["plan"]))]
    parts.append(frame_table(ab.looks_table(o.online)))
    parts.append(h.para(f"{o.online['decision']}: {o.online['reason']}"))
    parts.append(h.img(looks_png, "online looks and boundaries"))
    return "".join(parts)


def holdout_html(o: Outcome) -> str:
    """The challenger's holdout metrics with intervals, and its gates."""
    ev = o.evaluation
    if not ev:
        return ""
    rows = [[k, v["value"], v["low"], v["high"]] for k, v in sorted(ev["intervals"].items())]
    parts = [h.heading("holdout metrics (bootstrap intervals)", 5)]
    parts.append(h.table(["metric", "value", "low", "high"], rows))
    gates = [
        [g["name"], g["value"], g["op"], g["bound"], "pass" if g["passed"] else "FAIL"]
        for g in ev["gates"]
    ]
    if gates:
        parts += [h.heading("gates", 5), h.table(["gate", "value", "", "bound", ""], gates)]
    return "".join(parts)
