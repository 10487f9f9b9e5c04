"""One run's page (``runs/<run_id>/index.html``) and the files it shows: its executed
notebook (nbconvert, code hidden unless ``--with-code``), its Evidently reports inline, its
parameters, inputs and outputs with their content hashes, metrics, verdicts, provenance and
lineage as a picture. Reports, pictures and small outputs are copied beside the page."""

from __future__ import annotations

import os
from typing import Any

from nbtrail.core.errors import NbtrailError
from nbtrail.runs.record_types import RunRecord
from nbtrail.site.content import copied_outputs, executed_notebook, key_metrics
from nbtrail.site.escaping import Markup, esc, href
from nbtrail.site.lineage_svg import lineage_svg
from nbtrail.site.notebook_html import RenderedNotebook, render_notebook
from nbtrail.site.pages.common import Site, duration, fmt, render, verdict_rows, when
from nbtrail.site.report_pages import bundle_names, parse_report, rewrite_plain, site_page
from nbtrail.site.writer import SiteWriter

REPORT_SUFFIXES = (".html", ".htm")


def lineage_runs(site: Site, rec: RunRecord) -> tuple[Any, list[str], str | None]:
    """The run's upstream graph, the run ids in it, and a problem (None when drawn)."""
    from nbtrail.runs import lineage

    try:
        graph = lineage.upstream(site.ws, rec["run_id"])
    except NbtrailError as exc:
        return None, [], f"its lineage could not be traced: {exc}"
    return graph, sorted(graph.runs()), None


def _artifacts(site: Site, rec: RunRecord, root: str, copied: dict[str, str]) -> dict[str, Any]:
    inputs = [
        {
            "name": a["name"],
            "kind": a["kind"],
            "ref": a.get("ref") or "",
            "digest": a["digest"],
            "stage": a.get("stage") or "",
            "run_id": a.get("run_id") or rec["upstream"].get(a.get("stage") or ""),
            "path": a.get("path") or "",
        }
        for a in rec["inputs"]
    ]
    outputs = [
        {
            "name": name,
            "kind": a["kind"],
            "ref": a.get("ref") or "",
            "digest": a["digest"],
            "path": a.get("path") or "",
            "href": href(*copied[name].split("/")) if name in copied else None,
        }
        for name, a in sorted(rec["outputs"].items())
    ]
    return {"inputs": inputs, "outputs": outputs}


def run_context(site: Site, rec: RunRecord, *, root: str, links: bool = True) -> dict[str, Any]:
    """What a run's page shows, except the notebook (``root``: the way to the site root)."""
    copied = copied_outputs(site.ws, rec)
    graph, _, lineage_problem = lineage_runs(site, rec)

    def link(rid: str) -> str | None:
        return site.run_href(rid, root) if links else None

    env = rec["environment"]
    err = rec.get("error")
    reports = [
        (name, href(*rel.split("/")) if links else f"#report-{name}")
        for name, rel in sorted(copied.items())
        if rel.lower().endswith(REPORT_SUFFIXES)
    ]
    artifacts = _artifacts(site, rec, root, copied if links else {})
    return {
        "rec": rec,
        "run_id": rec["run_id"],
        "stage": rec["stage"],
        "status": rec["status"],
        "origin": rec["origin"],
        "started": when(rec["started"]),
        "ended": when(rec.get("ended")),
        "duration": duration(rec.get("duration_s")),
        "cached_from": rec.get("cached_from"),
        "reproduces": rec.get("reproduces"),
        "error": {
            "ename": err.get("ename"),
            "evalue": err.get("evalue"),
            "cell": err.get("cell"),
        }
        if err
        else None,
        "params": [(k, fmt(v)) for k, v in sorted(rec["params"].items())],
        "metrics": [(k, fmt(v)) for k, v in sorted(rec["metrics"].items())],
        "key_metrics": [(k, fmt(v)) for k, v in key_metrics(rec)],
        "verdicts": verdict_rows(rec),
        **artifacts,
        "notebook": rec["notebook"],
        "git": rec["git"],
        "python": env.get("python"),
        "platform": env.get("platform"),
        "lock_hash": env.get("lock_hash"),
        "packages": sorted((env.get("packages") or {}).items()),
        "lineage": lineage_svg(graph, link) if graph is not None else None,
        "lineage_problem": lineage_problem,
        "upstream": sorted(rec["upstream"].items()),
        "links": site.links(root) if links else {},
        "reports": reports,
        "summary_lines": [
            str(x) for x in ((rec.get("extra") or {}).get("summary") or {}).get("lines") or []
        ],
    }


def _report_iframe(src: str, copied_rels: set[str]) -> str:
    rel = os.path.normpath(src).replace(os.sep, "/")
    if rel not in copied_rels:
        return f'<p class="warning">report {esc(src)} is not part of this site</p>'
    link = href(*rel.split("/"))
    return (
        f'<div class="report-frame"><iframe class="report" src="{esc(link)}" '
        f'title="report {esc(rel)}"></iframe>'
        f'<p class="note"><a href="{esc(link)}">open the report on its own page</a></p></div>'
    )


def notebook_markup(site: Site, rec: RunRecord, nb: RenderedNotebook) -> Markup:
    """The rendered notebook with each report slot an iframe on the copied report."""
    rels = set(copied_outputs(site.ws, rec).values())
    return Markup(nb.join([_report_iframe(src, rels) for src in nb.reports]))


def notebook_of(site: Site, rec: RunRecord) -> RenderedNotebook:
    """The run's executed notebook rendered (or why it cannot be)."""
    path = executed_notebook(site.ws, rec)
    if path is None:
        why = (
            "this run reused another run's results"
            if rec.get("cached_from")
            else "none was recorded"
        )
        return RenderedNotebook(error=f"no executed notebook: {why}")
    return render_notebook(path, with_code=site.with_code)


def _assets_rel(rel: str) -> str:
    depth = 2 + rel.count("/")  # runs/<id>/ + the folders inside the run folder
    return "/".join([".."] * depth) + "/assets"


def write_run(site: Site, rec: RunRecord, writer: SiteWriter) -> set[str]:
    """Write the run's page and the outputs it shows; return the Evidently bundles named."""
    run_id = rec["run_id"]
    base = f"runs/{run_id}"
    bundles: set[str] = set()
    folder = site.ws.run_dir(run_id)
    for rel in sorted(set(copied_outputs(site.ws, rec).values())):
        src = folder / rel
        if rel.lower().endswith(REPORT_SUFFIXES):
            page = src.read_text(errors="replace")
            parts = parse_report(page)
            if parts is not None:
                bundles.add(parts.bundle_name)
                writer.write(f"{base}/{rel}", site_page(parts, _assets_rel(rel)))
            else:
                bundles |= bundle_names(page)
                writer.write(f"{base}/{rel}", rewrite_plain(page, _assets_rel(rel)))
        else:
            writer.copy(f"{base}/{rel}", src)
    nb = notebook_of(site, rec)
    context = run_context(site, rec, root="../../")
    html = render(
        "run.html.j2",
        site,
        title=f"{rec['stage']} run {run_id}",
        root="../../",
        current="runs.html",
        nb_error=nb.error,
        nb_html=notebook_markup(site, rec, nb) if nb.error is None else None,
        with_code=site.with_code,
        **context,
    )
    writer.write(f"{base}/index.html", html)
    return bundles
