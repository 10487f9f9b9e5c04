"""Small HTML pieces the views are built of: escaped text, tables, pictures, links.

Everything a view shows goes through :func:`esc` (parameter strings, column and dataset names
may hold markup). Styles are inline, so a table looks the same in a widget, in a saved output
and in nbconvert's HTML.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.humanize import human
from nbtrail.runs.runfolder import RUN_DIR_ENV

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TABLE = "border-collapse:collapse;font-size:12px;margin:4px 0"
CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"
HEAD = CELL + ";font-weight:600;border-bottom:2px solid #999"
MARKED = "background:#fff3cd"
STATUS_COLORS = {"completed": "#1a7f37", "failed": "#cf222e", "interrupted": "#9a6700"}
VERDICT_COLORS = {"pass": "#1a7f37", "warn": "#9a6700", "fail": "#cf222e"}


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML (numbers formatted for people)."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return html.escape(human(value))
    return html.escape("-" if value is None else str(value), quote=True)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    marked: Iterable[int] = (),
    raw: Iterable[int] = (),
    cls: str = "nbtrail-table",
) -> str:
    """A table; cells are escaped except the columns in ``raw`` (already HTML); rows whose
    position is in ``marked`` are highlighted."""
    marks, raws = set(marked), set(raw)
    head = "".join(f'<th style="{HEAD}">{esc(c)}</th>' for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td style="{CELL}">{v if j in raws else esc(v)}</td>' for j, v in enumerate(row)
        )
        style = f' style="{MARKED}"' if i in marks else ""
        body.append(f"<tr{style}>{cells}</tr>")
    return (
        f'<table class="{cls}" style="{TABLE}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def heading(text: str, level: int = 4) -> str:
    return f'<h{level} style="margin:8px 0 4px 0">{esc(text)}</h{level}>'


def para(text: str, *, muted: bool = False) -> str:
    style = ' style="color:#666"' if muted else ""
    return f"<p{style}>{esc(text)}</p>"


def pre(text: str) -> str:
    return f'<pre style="font-size:12px;margin:4px 0">{esc(text)}</pre>'


def colored(text: str, color: str) -> str:
    return f'<span style="color:{color};font-weight:600">{esc(text)}</span>'


def status(text: str) -> str:
    """A run status, coloured."""
    return colored(text, STATUS_COLORS.get(text, "#444"))


def error(text: str) -> str:
    """A refusal, as the widget shows it (the message is the error's own text)."""
    return (
        f'<div class="nbtrail-error" style="color:#cf222e;white-space:pre-wrap">{esc(text)}</div>'
    )


def figure_png(fig: Figure, *, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (no pyplot, no display)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def img(png: bytes, alt: str) -> str:
    """A PNG inline, as a data URI (a static page needs no file beside it)."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}" style="max-width:100%"/>'


def notebook_dir() -> Path:
    """The folder of the notebook a view is shown in: the run folder of a stage the runner
    executes (the executed notebook is written there), else the kernel's working folder
    (JupyterLab starts a kernel in its notebook's folder)."""
    managed = os.environ.get(RUN_DIR_ENV)
    return Path(managed) if managed else Path.cwd()


def link(target: str | os.PathLike[str], text: str, *, start: Path | None = None) -> str:
    """A link to ``target`` relative to ``start`` (the folder of the notebook showing it,
    default :func:`notebook_dir`): JupyterLab resolves it against the notebook's URL, an
    exported page against its own folder."""
    rel = Path(os.path.relpath(Path(target).resolve(), (start or notebook_dir()).resolve()))
    return f'<a href="{esc(rel.as_posix())}" target="_blank">{esc(text)}</a>'
