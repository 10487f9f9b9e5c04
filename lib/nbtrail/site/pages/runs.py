"""The runs page: every published run in a table (stage, status, started, duration, key
metrics, the parameters that differ between runs of its stage), sortable and filterable in
the page, and a scatter of a parameter against a metric."""

from __future__ import annotations

import json
from typing import Any

from nbtrail.runs.record_types import RunRecord
from nbtrail.site.content import differing_params, key_metrics
from nbtrail.site.pages.common import Site, duration, fmt, render, when
from nbtrail.site.svg import status_colours


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def scatter_points(site: Site) -> list[dict[str, Any]]:
    """Each run with its numeric parameters (its own as ``stage.name``, and those of the
    runs it read from) and numeric metrics, for the scatter view."""
    by_id = {r["run_id"]: r for r in site.content.runs}
    points = []
    for r in site.content.runs:
        params: dict[str, float] = {}
        sources: list[RunRecord] = [by_id[u] for u in r["upstream"].values() if u in by_id]
        for src in [*sources, r]:
            for k, v in src["params"].items():
                num = _numeric(v)
                if num is not None:
                    params[f"{src['stage']}.{k}"] = num
        metrics = {k: num for k, v in r["metrics"].items() if (num := _numeric(v)) is not None}
        if params and metrics:
            points.append(
                {
                    "run_id": r["run_id"],
                    "href": site.run_page(r["run_id"]),
                    "params": params,
                    "metrics": metrics,
                    "colour": status_colours(r["status"])[1],
                }
            )
    return points


def _default_axes(points: list[dict[str, Any]]) -> tuple[str, str]:
    """A parameter that varies (else any) and the metric most runs have."""
    seen: dict[str, set[float]] = {}
    counts: dict[str, int] = {}
    for p in points:
        for k, v in p["params"].items():
            seen.setdefault(k, set()).add(v)
        for k in p["metrics"]:
            counts[k] = counts.get(k, 0) + 1
    varying = sorted(k for k, vs in seen.items() if len(vs) > 1)
    x = varying[0] if varying else (sorted(seen)[0] if seen else "")
    y = max(sorted(counts), key=lambda k: counts[k]) if counts else ""
    return x, y


def runs_page(site: Site) -> str:
    """``runs.html``."""
    differ = differing_params(site.content.runs)
    rows = []
    for r in site.content.runs:
        shown = sorted(differ.get(r["stage"], set()))
        rows.append(
            {
                "run_id": r["run_id"],
                "href": site.run_page(r["run_id"]),
                "stage": r["stage"],
                "status": r["status"],
                "origin": r["origin"],
                "started": when(r["started"]),
                "duration": duration(r.get("duration_s")),
                "duration_s": r.get("duration_s") if r.get("duration_s") is not None else "",
                "metrics": [(k, fmt(v)) for k, v in key_metrics(r)],
                "params": [
                    (k, json.dumps(r["params"][k], default=str) if k in r["params"] else "-")
                    for k in shown
                ],
            }
        )
    points = scatter_points(site)
    x, y = _default_axes(points)
    return render(
        "runs.html.j2",
        site,
        title="Runs",
        root="",
        current="runs.html",
        rows=rows,
        stages=sorted({r["stage"] for r in site.content.runs}),
        statuses=sorted({r["status"] for r in site.content.runs}),
        points=points,
        param_names=sorted({k for p in points for k in p["params"]}),
        metric_names=sorted({k for p in points for k in p["metrics"]}),
        x=x,
        y=y,
        problems=site.content.problems,
    )
