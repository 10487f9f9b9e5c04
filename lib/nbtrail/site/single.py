"""``nbtrail publish --single RUN -o FILE.html``: one run as one self-contained HTML file.

Everything is inside the file, to attach to an email and open offline: the stylesheet and
script inline, pictures as data, each Evidently report drawn in place (its data packed as in
the site) and Evidently's bundle and icon font included once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from nbtrail.core import atomic
from nbtrail.core.errors import ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.record_types import RunRecord
from nbtrail.site.assets import static_text
from nbtrail.site.content import SiteContent, copied_outputs
from nbtrail.site.escaping import Markup, esc
from nbtrail.site.notebook_html import highlight_css
from nbtrail.site.pages.common import Site, render
from nbtrail.site.pages.run import REPORT_SUFFIXES, notebook_of, run_context
from nbtrail.site.report_pages import (
    ReportParts,
    bundle_source,
    font_source,
    inline_style,
    parse_report,
    script_text,
    unpack_script,
)


@dataclass(frozen=True)
class SingleReport:
    """The file written, its size, the run, how many reports it embeds."""

    path: Path
    run_id: str
    bytes: int
    reports: int
    seconds: float


def _reports(site: Site, rec: RunRecord) -> dict[str, tuple[str, ReportParts | None]]:
    """Report path (relative to the run folder) -> (output name, its parts or None)."""
    folder = site.ws.run_dir(rec["run_id"])
    out: dict[str, tuple[str, ReportParts | None]] = {}
    seen: set[str] = set()
    for name, rel in sorted(copied_outputs(site.ws, rec).items()):
        if rel.lower().endswith(REPORT_SUFFIXES):
            parts = parse_report((folder / rel).read_text(errors="replace"))
            out[rel] = (name, _own_id(parts, seen) if parts is not None else None)
    return out


def _own_id(parts: ReportParts, seen: set[str]) -> ReportParts:
    """``parts`` with a dashboard id no other report of the page has: the id is derived from
    the report's content, so two identical reports (a batch and its unlabelled copy) share
    one, and in one page the second would draw into the first's element."""
    did, n = parts.dashboard_id, 1
    while did in seen:
        n += 1
        did = f"{parts.dashboard_id}_{n}"
    seen.add(did)
    if did == parts.dashboard_id:
        return parts
    return replace(
        parts,
        dashboard_id=did,
        data_js=parts.data_js.replace(parts.dashboard_id, did),
        draw_js=parts.draw_js.replace(parts.dashboard_id, did),
    )


def _slot(name: str, parts: ReportParts | None) -> str:
    if parts is None:
        return f'<p class="warning">report {esc(name)} cannot be embedded in a single file</p>'
    return (
        f'<div class="report-inline" id="report-{esc(name)}">'
        f'<div id="root_{esc(parts.dashboard_id)}"></div></div>'
    )


def publish_single(
    ws: Workspace, run: str, out_file: str | os.PathLike[str], *, with_code: bool = False
) -> SingleReport:
    """Write run ``run`` (id, prefix or stage) as one HTML file at ``out_file``."""
    start = time.perf_counter()
    target = Path(out_file)
    if target.is_dir():
        raise ParameterError(f"-o {target} is a folder; give a file name", parameter="o")
    rec = records.load(ws, index.resolve_run_id(ws, run))
    site = Site(ws=ws, content=SiteContent(runs=[rec], named=[]), with_code=with_code)
    context = run_context(site, rec, root="", links=False)
    reports = _reports(site, rec)
    nb = notebook_of(site, rec)
    placed: set[str] = set()
    fill = []
    for src in nb.reports:
        rel = os.path.normpath(src).replace(os.sep, "/")
        if rel in reports and rel not in placed:
            placed.add(rel)
            fill.append(_slot(*reports[rel]))
        else:
            fill.append(f'<p class="warning">report {esc(src)} is not available</p>')
    extra = [_slot(*reports[rel]) for rel in sorted(reports) if rel not in placed]
    drawn = [p for _, p in reports.values() if p is not None]
    styles, scripts = "", ""
    if drawn:
        font = font_source(ws.assets_dir)
        styles = inline_style(drawn[0], font.read_bytes() if font else None)
        bundle = bundle_source(ws.assets_dir, drawn[0].bundle_name)
        if bundle is not None:
            scripts = "<script>var global = globalThis;</script>\n"
            scripts += f"<script>{script_text(bundle.read_text())}</script>\n"
            scripts += "\n".join(unpack_script(p.data_js, p.draw_js) for p in drawn)
    html = render(
        "single.html.j2",
        site,
        title=f"{rec['stage']} run {rec['run_id']}",
        root="",
        nav=False,
        inline_css=Markup(static_text("site.css") + "\n" + highlight_css()),
        inline_js=Markup(script_text(static_text("site.js"))),
        evidently_style=Markup(styles),
        evidently_scripts=Markup(scripts),
        nb_error=nb.error,
        nb_html=Markup(nb.join(fill)) if nb.error is None else None,
        extra_reports=Markup("".join(extra)),
        with_code=with_code,
        **context,
    )
    atomic.write_text(target, html)
    target.chmod(0o644)
    return SingleReport(
        path=target,
        run_id=rec["run_id"],
        bytes=target.stat().st_size,
        reports=len(drawn),
        seconds=time.perf_counter() - start,
    )
