"""Comparison pages: for each stage, every run against the one before it, and every pair of
runs named with ``--run``; each lists what differs (parameters, data versions, code,
environment, outputs) and every metric with its delta (:func:`nbtrail.runs.rundiff.diff`)."""

from __future__ import annotations

from typing import Any

from nbtrail.site.content import consecutive_pairs, named_pairs
from nbtrail.site.escaping import href
from nbtrail.site.pages.common import Site, fmt, render, when

SECTIONS = ("stage", "params", "inputs", "notebook", "git", "environment", "outputs")


def compare_name(a: str, b: str) -> str:
    """The file of the comparison of runs ``a`` and ``b`` under ``compare/``."""
    return f"{a}__{b}.html"


def pairs(site: Site) -> list[tuple[str, str, str]]:
    """(a, b, why) for every comparison page: consecutive runs of a stage, named pairs."""
    out = [
        (a["run_id"], b["run_id"], f"{b['stage']}: consecutive")
        for a, b in consecutive_pairs(site.content.runs)
    ]
    seen = {(a, b) for a, b, _ in out}
    for a, b in named_pairs(site.content.named):
        if (a, b) not in seen:
            out.append((a, b, "named with --run"))
            seen.add((a, b))
    return out


def _rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    sections = []
    for name in SECTIONS:
        rows = d.get(name) or []
        changed = [r for r in rows if not r["same"]]
        sections.append(
            {
                "name": name,
                "same": len(rows) - len(changed),
                "changed": [
                    {"field": r["field"], "a": fmt(r["a"]), "b": fmt(r["b"])} for r in changed
                ],
            }
        )
    return sections


def compare_page(site: Site, a: str, b: str, why: str) -> str:
    """``compare/<a>__<b>.html``."""
    from nbtrail.runs.rundiff import diff

    d = diff(site.ws, a, b)
    by_id = {r["run_id"]: r for r in site.content.runs}
    metrics = [
        {
            "field": r["field"],
            "a": fmt(r["a"]),
            "b": fmt(r["b"]),
            "delta": f"{r['delta']:+.4g}" if isinstance(r.get("delta"), int | float) else "-",
            "same": r["same"],
        }
        for r in d["metrics"]
    ]
    return render(
        "compare.html.j2",
        site,
        title=f"{a} vs {b}",
        root="../",
        current="compare/index.html",
        a=a,
        b=b,
        why=why,
        started_a=when(by_id[a]["started"]) if a in by_id else "-",
        started_b=when(by_id[b]["started"]) if b in by_id else "-",
        sections=_rows(d),
        metrics=metrics,
        links=site.links("../"),
    )


def compare_index(site: Site, listed: list[tuple[str, str, str]]) -> str:
    """``compare/index.html``: every comparison, by stage."""
    by_id = {r["run_id"]: r for r in site.content.runs}
    rows = [
        {
            "a": a,
            "b": b,
            "why": why,
            "stage": by_id[b]["stage"] if b in by_id else "",
            "href": href(compare_name(a, b)),
            "started": when(by_id[b]["started"]) if b in by_id else "-",
        }
        for a, b, why in listed
    ]
    return render(
        "compare_index.html.j2",
        site,
        title="Comparisons",
        root="../",
        current="compare/index.html",
        rows=rows,
    )
