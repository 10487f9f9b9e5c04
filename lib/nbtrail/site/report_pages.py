"""Evidently report pages as the site serves them: one shared bundle, data packed small.

A report page that :mod:`nbtrail.practices.reports` saved loads Evidently's JavaScript bundle
and icon font by a path relative to its run folder (``workspace/assets/``). Copied into the
site, the page is rewritten to load the one copy under the site's ``assets/``, and its data
(the widgets and plotly figures, most of a drift report's weight) is gzip-packed and
base64-encoded, then unpacked in the browser (``DecompressionStream``) before Evidently draws
it: a 31-column drift report drops from ~690 KB to ~150 KB.

:func:`parse_report` splits such a page into its parts; a page of another shape (an
Evidently ``save_html`` page with the bundle inlined) is copied as it is.
"""

from __future__ import annotations

import base64
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

FONT_NAME = "material-ui-icons.woff2"
_BUNDLE_SRC = re.compile(r'<script src="([^"]*?)(evidently-[0-9A-Za-z.+-]+\.js)"></script>')
_FONT_URL = re.compile(r"url\(([^)]*?)" + re.escape(FONT_NAME) + r"\)")
_DATA = re.compile(r"<script>\s*(var (report_[0-9a-f]+) = .*?)</script>", re.S)
_DRAW = re.compile(r"<script>\s*(window\.drawDashboard\(.*?\);)\s*</script>", re.S)
_STYLE = re.compile(r"<style>.*?</style>", re.S)

# Unpacks the page's data, runs it (it defines the report's variables), then draws.
_UNPACK = """<script>
(function () {
  var b = atob(%s), u = new Uint8Array(b.length);
  for (var i = 0; i < b.length; i++) u[i] = b.charCodeAt(i);
  new Response(new Blob([u]).stream().pipeThrough(new DecompressionStream("gzip"))).text()
    .then(function (js) { (0, eval)(js); %s })
    .catch(function (e) { document.body.textContent = "this report could not be unpacked: " + e; });
})();
</script>"""


@dataclass(frozen=True)
class ReportParts:
    """A saved report page taken apart: its style, data script, bundle, draw call."""

    page: str
    style: str
    data_js: str
    dashboard_id: str
    bundle_name: str
    draw_js: str


def parse_report(page: str) -> ReportParts | None:
    """The parts of a page :mod:`nbtrail.practices.reports` wrote; None for another shape."""
    bundle, data, draw, style = (
        _BUNDLE_SRC.search(page),
        _DATA.search(page),
        _DRAW.search(page),
        _STYLE.search(page),
    )
    if not (bundle and data and draw and style):
        return None
    return ReportParts(
        page=page,
        style=style.group(0),
        data_js=data.group(1),
        dashboard_id=data.group(2),
        bundle_name=bundle.group(2),
        draw_js=draw.group(1),
    )


def packed(js: str) -> str:
    """``js`` gzip-compressed (no timestamp: the same input gives the same bytes), base64."""
    return base64.b64encode(gzip.compress(js.encode("utf-8"), compresslevel=9, mtime=0)).decode()


def unpack_script(js: str, then: str) -> str:
    """A ``<script>`` that unpacks ``js``, runs it at global scope, then runs ``then``."""
    return _UNPACK % (f'"{packed(js)}"', then)


def site_page(parts: ReportParts, assets_rel: str) -> str:
    """The page for the site: bundle and font from ``assets_rel``, the data packed."""
    page = _BUNDLE_SRC.sub(
        lambda m: f'<script src="{assets_rel}/{m.group(2)}"></script>', parts.page, count=1
    )
    page = _FONT_URL.sub(f"url({assets_rel}/{FONT_NAME})", page, count=1)
    page = _DATA.sub(lambda m: "", page, count=1)
    return _DRAW.sub(lambda m: unpack_script(parts.data_js, parts.draw_js), page, count=1)


def bundle_names(page: str) -> set[str]:
    """The Evidently bundles a page loads by path."""
    return {m.group(2) for m in _BUNDLE_SRC.finditer(page)}


def inline_style(parts: ReportParts, font: bytes | None) -> str:
    """The page's ``<style>`` with the icon font embedded (for a single-file page)."""
    if font is None:
        return parts.style
    uri = "data:font/woff2;base64," + base64.b64encode(font).decode()
    return _FONT_URL.sub(f"url({uri})", parts.style, count=1)


def rewrite_plain(page: str, assets_rel: str) -> str:
    """A page of unknown shape with only its bundle and font paths pointed at the site."""
    page = _BUNDLE_SRC.sub(lambda m: f'<script src="{assets_rel}/{m.group(2)}"></script>', page)
    return _FONT_URL.sub(f"url({assets_rel}/{FONT_NAME})", page)


def bundle_source(ws_assets: Path, name: str) -> Path | None:
    """Where the bundle a page names is: the workspace's copy, else the installed one."""
    here = ws_assets / name
    if here.is_file():
        return here
    found = _evidently_static()
    if found is None:
        return None
    static, version = found
    if name == f"evidently-{version}.js" and (static / "index.js").is_file():
        return static / "index.js"
    return None


def _evidently_static() -> tuple[Path, str] | None:
    """Evidently's static folder and version, found without importing it (its import costs
    seconds: a site with no reports must not pay for it)."""
    from importlib import metadata, util

    spec = util.find_spec("evidently")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        version = metadata.version("evidently")
    except metadata.PackageNotFoundError:
        return None
    return root / "nbextension" / "static", version


def font_source(ws_assets: Path) -> Path | None:
    """The icon font: the workspace's copy, else the installed one."""
    here = ws_assets / FONT_NAME
    if here.is_file():
        return here
    found = _evidently_static()
    if found is None:
        return None
    installed = found[0] / FONT_NAME
    return installed if installed.is_file() else None


def script_text(js: str) -> str:
    """JavaScript made safe to inline in a ``<script>`` element (no early ``</script>``)."""
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.I).replace("<!--", "<\\!--")
