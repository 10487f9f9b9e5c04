"""The home page: the pipeline as a DAG coloured by each stage's latest run, the champion
and the A/B decision behind it (effects, intervals, tests), the latest monitoring verdicts
and the monitoring trend, and links to everything else."""

from __future__ import annotations

import math
from typing import Any

from nbtrail.core.errors import NbtrailError
from nbtrail.runs.record_types import RunRecord
from nbtrail.site.content import copied_outputs, read_json_output
from nbtrail.site.dag_svg import pipeline_dag
from nbtrail.site.escaping import href
from nbtrail.site.pages.common import Site, fmt, render, verdict_rows, when


def _dag(site: Site) -> tuple[Any, str | None]:
    from nbtrail.pipeline.config import load_pipeline

    try:
        pipeline = load_pipeline(site.ws)
    except NbtrailError as exc:
        return None, f"the pipeline definition could not be read: {exc}"
    latest = {}
    for stage in pipeline.order:
        rec = site.content.latest(stage)
        if rec is not None:
            latest[stage] = {
                "run_id": rec["run_id"],
                "status": rec["status"],
                "started": rec["started"],
            }
    return pipeline_dag(pipeline, latest, lambda rid: site.run_href(rid, "")), None


def _champions(site: Site) -> list[dict[str, Any]]:
    from nbtrail.practices import registry

    rows = []
    for v in registry.list_versions(site.ws):
        if {"champion", "production"} & set(v["aliases"]):
            rows.append(
                {
                    "ref": f"{v['name']}@{v['version']}",
                    "aliases": ", ".join(v["aliases"]),
                    "verdict": v["verdict"],
                    "run_id": v["run_id"],
                    "created": when(v["created"]),
                    "metrics": [(k, fmt(x)) for k, x in sorted((v.get("metrics") or {}).items())],
                }
            )
    return rows


# What the decision table shows of each metric of the offline A/B test (ab_offline.json).
_EFFECT_FIELDS = (
    "challenger",
    "champion",
    "difference",
    "effect_size",
    "p_adjusted",
    "test",
)


def _ci(ci: Any) -> str:
    if isinstance(ci, list | tuple) and len(ci) == 2:
        return f"[{fmt(ci[0])}, {fmt(ci[1])}]"
    return "-"


def _decision(site: Site) -> dict[str, Any] | None:
    """The newest run in the site that recorded an A/B decision, with its offline test."""
    rec = next((r for r in site.content.runs if "ab_decision" in r["outputs"]), None)
    decision = read_json_output(site.ws, rec, "ab_decision")
    if rec is None or not isinstance(decision, dict):
        return None
    offline = read_json_output(site.ws, rec, "ab_offline") or {}
    metrics = []
    adjusted = offline.get("adjusted_intervals") or {}
    for name, m in sorted((offline.get("metrics") or {}).items()):
        if not isinstance(m, dict):
            continue
        # the interval at the Holm level: it excludes 0 exactly when the adjusted p < alpha
        held = adjusted.get(name)
        shown: dict[str, Any] = held if isinstance(held, dict) else m
        row = {k: fmt(m.get(k)) for k in _EFFECT_FIELDS}
        row.update(
            metric=name,
            primary=name == offline.get("primary"),
            ci=_ci(shown.get("ci")),
            level=fmt(shown.get("level")),
            better="higher" if m.get("higher_is_better") else "lower",
        )
        metrics.append(row)
    mc = offline.get("mcnemar") if isinstance(offline.get("mcnemar"), dict) else None
    facts = {k: fmt(decision.get(k)) for k in ("decision", "opponent", "reason")}
    facts.update({k: fmt(offline.get(k)) for k in ("correction", "alpha", "n")})
    return {
        **facts,
        "run_id": rec["run_id"],
        "opponent_kind": "baseline"
        if str(decision.get("opponent", "")).startswith("baseline")
        else "champion",
        "online": fmt(decision.get("online_decision")) if decision.get("online_decision") else None,
        "metrics": metrics,
        "mcnemar": {k: fmt(v) for k, v in mc.items()} if mc else None,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _monitoring(site: Site) -> dict[str, Any] | None:
    from nbtrail.practices.monitoring.history import load_history

    history = load_history(site.ws)
    if history.empty:
        return None
    rows = [{k: _plain(v) for k, v in r.items()} for r in history.to_dict("records")]
    last_run = rows[-1]["run_id"]
    latest = [r for r in rows if r["run_id"] == last_run]
    rec: RunRecord | None = next((r for r in site.content.runs if r["run_id"] == last_run), None)
    plot = None
    if rec is not None:
        copied = copied_outputs(site.ws, rec)
        rel = copied.get("history")
        if rel and rel.lower().endswith((".png", ".svg", ".jpg", ".jpeg")):
            plot = href("runs", last_run, *rel.split("/"))
    fmt_rows = [
        {
            "batch": r["batch"],
            "status": str(r["status"]),
            "created": when(r["created"]),
            "drift_share": fmt(r["drift_share"]),
            "metric": f"{r['metric']} {fmt(r['metric_value'])}" if r.get("metric") else "-",
            "summary": fmt(r["summary"]),
            "run_id": r["run_id"],
        }
        for r in rows
    ]
    return {
        "run_id": last_run,
        "latest": [r for r in fmt_rows if r["run_id"] == last_run],
        "history": fmt_rows[-30:],
        "plot": plot,
        "verdicts": verdict_rows(rec) if rec is not None else [],
        "failed": sum(1 for r in latest if r["status"] == "fail"),
    }


def home_page(site: Site) -> str:
    """``index.html``."""
    dag, dag_problem = _dag(site)
    runs = site.content.runs
    return render(
        "home.html.j2",
        site,
        title="Home",
        root="",
        current="index.html",
        dag=dag,
        dag_problem=dag_problem,
        champions=_champions(site),
        decision=_decision(site),
        monitoring=_monitoring(site),
        links=site.links(""),
        n_runs=len(runs),
        n_failed=sum(1 for r in runs if r["status"] == "failed"),
        newest=when(runs[0]["started"]) if runs else "-",
        problems=site.content.problems,
    )
