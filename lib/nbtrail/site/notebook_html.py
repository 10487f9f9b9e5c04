"""An executed notebook as HTML for the site, rendered by nbconvert.

The ``basic`` template gives the cells without a page around them; code is left out unless
asked for (``with_code``), HTML outputs are cleaned (:func:`~nbtrail.site.escaping.clean_html`:
a cell that displays a hostile string without escaping it still shows text), and notebook
widget state (which would pull a script from the internet) is dropped. The snippet that
:func:`nbtrail.practices.reports.show_report` put in the notebook for each Evidently report is
a script that cleaning would remove; it is replaced by a *slot*: the rendered HTML comes back cut at each slot, with the report's
path relative to the notebook, so the caller puts there an iframe (the site) or the report
itself (a single-file page).

A notebook that is missing or not a notebook gives a :class:`RenderedNotebook` with ``error``
set: the run's page says so and the rest of the site builds.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.site.escaping import clean_html

_CONFIG = re.compile(r"var c = (\{.*?\});")


@dataclass(frozen=True)
class RenderedNotebook:
    """The notebook's HTML cut at its report slots: ``chunks`` has one more item than
    ``reports`` (each report's path relative to the notebook). ``error`` when it could not
    be rendered."""

    chunks: list[str] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)
    error: str | None = None

    def join(self, fill: list[str]) -> str:
        """The HTML with ``fill[i]`` (markup the caller built) at report slot ``i``."""
        out = [self.chunks[0]] if self.chunks else []
        for piece, chunk in zip(fill, self.chunks[1:], strict=True):
            out += [piece, chunk]
        return "".join(out)


def _report_src(html_text: str) -> str | None:
    """The saved page a ``show_report`` snippet displays (its ``src``), if it is one."""
    if 'class="nbtrail-report"' not in html_text:
        return None
    m = _CONFIG.search(html_text)
    if not m:
        return None
    try:
        src = json.loads(m.group(1)).get("src")
    except ValueError:
        return None
    return src if isinstance(src, str) and src else None


_SCRIPTED = ("application/javascript", "application/vnd.jupyter.widget-view+json")


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _make_safe(data: dict[str, Any]) -> None:
    """Outputs that could carry markup unescaped, made HTML that :func:`clean_html` checks:
    Markdown (whose raw HTML nbconvert would pass through) rendered with its markup as text, SVG shown as an
    image (where it cannot run a script), scripts and widget views dropped."""
    for key in _SCRIPTED:
        data.pop(key, None)
    if "text/html" in data:
        return
    if "text/markdown" in data:
        from nbconvert.filters import markdown2html

        # raw HTML in the Markdown becomes text: "<" and "&" are entities before rendering
        md = _joined(data.pop("text/markdown")).replace("&", "&amp;").replace("<", "&lt;")
        data["text/html"] = clean_html(markdown2html(md))
    elif "image/svg+xml" in data:
        svg = base64.b64encode(_joined(data.pop("image/svg+xml")).encode()).decode()
        data["text/html"] = f'<img src="data:image/svg+xml;base64,{svg}" alt="figure">'


def _prepare_outputs(nb: Any, token: str) -> list[str]:
    """Replace each report snippet by a slot paragraph and clean every other HTML output;
    return the reports' ``src``."""
    reports: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data") or {}
            _make_safe(data)
            text = data.get("text/html")
            if text is None:
                continue
            text = "".join(text) if isinstance(text, list) else text
            src = _report_src(text)
            if src is None:
                data["text/html"] = clean_html(text)
                continue
            out["data"] = {"text/html": f"<p>{token}-{len(reports)}</p>"}
            reports.append(src)
    return reports


def render_notebook(path: Path, *, with_code: bool) -> RenderedNotebook:
    """``path`` rendered as HTML cells (no page around them), cut at its report slots."""
    if not path.is_file():
        return RenderedNotebook(error=f"the executed notebook {path.name} is missing")
    try:
        import nbformat

        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises many kinds on a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return RenderedNotebook(error=f"the executed notebook {path.name} is unreadable: {first}")
    from nbconvert import HTMLExporter

    nb.metadata.pop("widgets", None)
    token = f"nbtrail-report-slot-{secrets.token_hex(8)}"
    reports = _prepare_outputs(nb, token)
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=not with_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
    )
    try:
        body, _ = exporter.from_notebook_node(nb)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return RenderedNotebook(
            error=f"the executed notebook {path.name} could not be rendered: {first}"
        )
    chunks = re.split(rf"<p>{token}-\d+</p>", body)
    if len(chunks) != len(reports) + 1:  # a slot lost in rendering: show no report there
        return RenderedNotebook(chunks=["".join(chunks)], reports=[])
    return RenderedNotebook(chunks=chunks, reports=reports)


def highlight_css() -> str:
    """The Pygments rules for code cells (``.highlight`` spans nbconvert writes)."""
    from pygments.formatters import HtmlFormatter

    return str(HtmlFormatter(style="default").get_style_defs(".highlight"))
