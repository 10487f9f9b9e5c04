"""The site's static files under ``assets/``: its stylesheet and script (package files in
``static/``), the code-highlighting rules, a blank ``favicon.ico``, and one copy of Evidently's bundle and icon font
that every report page of the site loads."""

from __future__ import annotations

import base64
from importlib import resources
from pathlib import Path

from nbtrail.site.notebook_html import highlight_css
from nbtrail.site.report_pages import FONT_NAME, bundle_source, font_source
from nbtrail.site.writer import SiteWriter

ASSETS = "assets"
STATIC = ("site.css", "site.js")
# A 1x1 transparent PNG served as /favicon.ico: a browser asks a host for it on pages that
# name no icon (Evidently's, the model cards), and a 404 there is a console error.
FAVICON = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


def static_text(name: str) -> str:
    """A file of the package's ``static/`` folder."""
    return resources.files("nbtrail.site").joinpath("static", name).read_text()


def write_static(writer: SiteWriter) -> None:
    """The stylesheet, the script and the highlighting rules."""
    for name in STATIC:
        writer.write(f"{ASSETS}/{name}", static_text(name))
    writer.write(f"{ASSETS}/highlight.css", highlight_css())
    writer.write("favicon.ico", FAVICON)


def write_evidently(writer: SiteWriter, ws_assets: Path, bundles: set[str]) -> list[str]:
    """One copy of each Evidently bundle the reports name, and the icon font; returns the
    bundle names that could not be found (their reports will not draw)."""
    missing = []
    for name in sorted(bundles):
        src = bundle_source(ws_assets, name)
        if src is None:
            missing.append(name)
            continue
        writer.copy(f"{ASSETS}/{name}", src)
    font = font_source(ws_assets) if bundles else None
    if font is not None:
        writer.copy(f"{ASSETS}/{FONT_NAME}", font)
    return missing
