"""Evidently reports saved small, with one shared copy of Evidently's JavaScript bundle.

Evidently inlines its ~3.5 MB JavaScript bundle (and a 95 KB icon font) into every saved
report and every notebook cell that shows one. Here a report page holds only its own data and
loads the bundle from ``workspace/assets/evidently-<version>.js``, written once per workspace
and referenced by a relative path, so pages weigh tens to hundreds of KB and open from disk.
Pages are also compacted (floats to 6 significant digits, plotly's template repeated in every
figure stored once) and made byte-stable (Evidently's random widget ids renumbered): a
31-column drift report is 0.69 MB instead of 5.3 MB (``bench/RESULTS-monitor.md``).

Showing a report inline (:func:`show_report`) puts a ~1.5 KB snippet in the notebook, not the
report: an ``<iframe>`` plus a script that picks how to fill it.

- In an exported notebook (nbconvert HTML opened from disk or a static host), the iframe's
  ``src`` is the saved page, relative to the executed notebook.
- In JupyterLab (or Notebook 7), ``/files/`` pages are served with ``CSP: sandbox allow-scripts``
  so a page opened there may not load the shared script. The snippet instead fetches the page's
  HTML from ``/files/`` and shows it in a ``srcdoc`` iframe with a ``<base href>`` pointing at
  the page's folder; that iframe has the notebook's origin (as Evidently's own inline reports
  do), so the shared bundle loads like any same-origin file. This assumes the Jupyter server
  runs at the workspace root (``make lab`` does).

JupyterLab runs scripts of trusted notebooks only, and papermill's output is untrusted:
:func:`nbtrail.pipeline.signing.trust_notebook` signs an executed notebook with nbformat's ``NotebookNotary``.

This module uses Evidently's private renderer (``evidently.legacy.utils.dashboard``); the
pinned version is 0.7.23 and ``tests/test_reports.py`` checks it with a real report.
"""

from __future__ import annotations

import hashlib
import html
import json
import math
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.workspace import Workspace
from nbtrail.runs.runfolder import RUN_DIR_ENV

if TYPE_CHECKING:
    from evidently.core.report import Snapshot

FONT_NAME = "material-ui-icons.woff2"
DEFAULT_HEIGHT = 800


def _static_dir() -> Path:
    import evidently

    return Path(evidently.__path__[0]) / "nbextension" / "static"


def bundle_name() -> str:
    import evidently

    return f"evidently-{evidently.__version__}.js"


def ensure_bundle(ws: Workspace) -> Path:
    """Copy Evidently's JS bundle and icon font into ``ws.assets_dir`` once; return the JS path.

    The file name carries Evidently's version, so pages saved with another version keep theirs.
    """
    static = _static_dir()
    pairs = (
        (static / "index.js", ws.assets_dir / bundle_name()),
        (static / FONT_NAME, ws.assets_dir / FONT_NAME),
    )
    for src, dst in pairs:
        if dst.is_file() and dst.stat().st_size == src.stat().st_size:
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    return ws.assets_dir / bundle_name()


def _rel(target: Path, start: Path) -> str:
    return Path(os.path.relpath(target.resolve(), start.resolve())).as_posix()


def _compact(obj: Any, templates: list[str], seen: dict[str, int]) -> Any:
    """Round floats to 6 significant digits and pull out repeated plotly templates.

    Evidently repeats plotly's ~7.5 KB default template in every figure (124 times in a
    31-column drift report) and writes floats with 17 digits; neither changes the picture.
    A template is replaced by ``{"__nbtrail_t": i}`` and restored in the page by a script.
    """
    import numpy as np

    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k == "template" and isinstance(v, dict):
                text = json.dumps(_compact(v, templates, seen), separators=(",", ":"))
                if text not in seen:
                    seen[text] = len(templates)
                    templates.append(text)
                out[k] = {"__nbtrail_t": seen[text]}
            else:
                out[k] = _compact(v, templates, seen)
        return out
    if isinstance(obj, list | tuple):
        return [_compact(v, templates, seen) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_compact(v, templates, seen) for v in obj.tolist()]
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return float(f"{x:.6g}") if math.isfinite(x) else x
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _stable_ids(*texts: str) -> list[str]:
    """Replace Evidently's random widget ids (uuid7, new on every run) by ``w1``, ``w2``, ...

    in order of first appearance, the same id everywhere it occurs, so a report computed again
    from the same data is the same page byte for byte (``nbtrail reproduce`` compares them).
    """
    mapping: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        return mapping.setdefault(m.group(0), f"w{len(mapping) + 1}")

    return [_UUID.sub(sub, t) for t in texts]


_RESTORE = """(function () {
  var T = [%s];
  function r(o) {
    for (var k in o) {
      var v = o[k];
      if (v && typeof v === "object") {
        if (v.__nbtrail_t !== undefined) o[k] = JSON.parse(JSON.stringify(T[v.__nbtrail_t]));
        else r(v);
      }
    }
  }
  r(%s); r(%s);
})();"""


def render_html(
    snapshot: Snapshot, script_src: str, font_src: str, title: str | None = None
) -> str:
    """The report page of ``snapshot`` loading the bundle from ``script_src`` (no inlined JS).

    Same widgets as ``Snapshot.save_html``, with floats rounded to 6 significant digits and
    plotly's repeated template stored once. The dashboard id is derived from the content, so
    the same report renders to the same bytes.
    """
    from evidently.core.metric_types import DetailsInfo
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.legacy.utils import NumpyEncoder
    from evidently.legacy.utils.dashboard import TemplateParams, file_html_template

    group = group_widget(title="", widgets=snapshot._widgets)
    group.id = "nbtrail-report"  # group_widget draws a fresh uuid each call; one group a page
    widgets = [group, *snapshot._tests_widgets]
    items = []
    for info in widgets:
        for graph in info.get_additional_graphs():
            params = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            items.append(DetailsInfo(title="", info=params, id=graph.id))
    graphs = {
        f"{i.id}": i.info.dict() if isinstance(i.info, BaseWidgetInfo) else i.info for i in items
    }
    info = DashboardInfo(name="Report", widgets=widgets).dict()
    for widget in info["widgets"]:  # as evidently's dashboard_info_to_json does
        widget.pop("additionalGraphs", None)
    templates: list[str] = []
    seen: dict[str, int] = {}
    plain = json.loads(json.dumps([info, graphs], cls=NumpyEncoder))
    info_js, graphs_js = (
        json.dumps(_compact(x, templates, seen), separators=(",", ":")) for x in plain
    )
    info_js, graphs_js = _stable_ids(info_js, graphs_js)
    # a column or dataset name holding "</script>" must not end the script that carries it
    info_js, graphs_js = (t.replace("</", "<\\/") for t in (info_js, graphs_js))
    digest = hashlib.sha256((info_js + graphs_js).encode()).hexdigest()[:24]
    did = f"report_{digest}"
    data = (
        f"<script>\nvar {did} = {info_js};\nvar additional_graphs_{did} = {graphs_js};\n"
        + _RESTORE % (",".join(templates), did, f"additional_graphs_{did}")
        + "\n</script>"
    )
    params = TemplateParams(
        dashboard_id=did,
        dashboard_info=DashboardInfo(name="Report", widgets=[]),
        additional_graphs={},
        embed_font=False,
        embed_lib=False,
        embed_data=False,
        font_file=font_src,
        include_js_files=[script_src],
    )
    page = file_html_template(params)
    marker = "<!-- no embedded data -->"
    if page.count(marker) != 1:  # the private template changed: refuse rather than guess
        raise RuntimeError("unexpected Evidently page template; check the evidently pin")
    page = page.replace(marker, data)
    if title:
        page = page.replace("<head>", f"<head>\n<title>{html.escape(title)}</title>", 1)
    return page


def save_report(
    snapshot: Snapshot,
    path: str | os.PathLike[str],
    ws: Workspace,
    *,
    title: str | None = None,
) -> Path:
    """Write ``snapshot`` as a small HTML page at ``path`` that loads the workspace's bundle.

    The bundle is written to ``ws.assets_dir`` if missing; the page refers to it by a relative
    path, so the folder tree (``workspace/``) can be moved or published as a whole.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    bundle = ensure_bundle(ws)
    script = _rel(bundle, target.parent)
    font = _rel(bundle.with_name(FONT_NAME), target.parent)
    atomic.write_text(target, render_html(snapshot, script, font, title))
    target.chmod(0o644)  # a page to publish; the atomic temp file was created 0600
    return target


class ReportView:
    """What :func:`show_report` returns: a small HTML snippet that displays a saved report."""

    def __init__(self, path: Path, src: str, files_path: str, height: int) -> None:
        self.path = path
        self.src = src
        self.files_path = files_path
        self.height = height

    def _repr_html_(self) -> str:
        key = hashlib.sha256(self.files_path.encode()).hexdigest()[:12]
        fid = f"nbtrail-report-{key}"
        src = html.escape(self.src, quote=True)
        cfg = json.dumps({"id": fid, "src": self.src, "files": self.files_path})
        # The script runs where outputs may run scripts (trusted notebook, exported HTML).
        return f"""<div class="nbtrail-report">
<iframe id="{fid}" style="width:100%;height:{int(self.height)}px;border:0" title="report"></iframe>
<div style="font-size:small"><a href="{src}" target="_blank">open the report</a>
({html.escape(self.path.name)})</div>
<script>(function () {{
  var c = {cfg};
  var f = document.getElementById(c.id);
  if (!f) return;
  var el = document.getElementById("jupyter-config-data");
  if (!el) {{ f.src = c.src; return; }}
  var base = (JSON.parse(el.textContent).baseUrl || "/").replace(/\\/?$/, "/");
  var url = base + "files/" + c.files.split("/").map(encodeURIComponent).join("/");
  fetch(url, {{credentials: "same-origin"}}).then(function (r) {{
    if (!r.ok) throw new Error(r.status + " " + url);
    return r.text();
  }}).then(function (page) {{
    var dir = url.slice(0, url.lastIndexOf("/") + 1);
    f.onload = function () {{
      try {{
        var b = f.contentDocument.body;
        new ResizeObserver(function () {{
          if (b.scrollHeight > 0) f.style.height = (b.scrollHeight + 4) + "px";
        }}).observe(b);
      }} catch (e) {{}}
    }};
    f.srcdoc = page.replace(/<head>/i, '<head><base href="' + dir + '">');
  }}).catch(function (e) {{ f.srcdoc = "report not available here: " + e; }});
}})();</script>
</div>"""

    def __repr__(self) -> str:
        return f"ReportView({self.path})"


def _default_notebook_dir(path: Path, ws: Workspace) -> Path:
    """The folder of the notebook that shows ``path``.

    A runner-executed stage (``$NBTRAIL_RUN_DIR`` set): its run folder, where the executed
    notebook is written. Else the run folder ``path`` lies in if it holds a notebook; else
    ``notebooks/`` (an interactive run in JupyterLab).
    """
    env = os.environ.get(RUN_DIR_ENV)
    if env:
        return Path(env)
    runs = ws.runs_dir.resolve()
    resolved = path.resolve()
    if resolved.is_relative_to(runs) and resolved != runs:
        run_dir = runs / resolved.relative_to(runs).parts[0]
        if any(run_dir.glob("*.ipynb")):
            return run_dir
    return ws.notebooks_dir


def show_report(
    report: str | os.PathLike[str] | Snapshot,
    ws: Workspace,
    *,
    path: str | os.PathLike[str] | None = None,
    notebook_dir: str | os.PathLike[str] | None = None,
    height: int = DEFAULT_HEIGHT,
) -> ReportView:
    """Display a saved report inline without putting the report into the notebook.

    ``report`` is a saved page, or a snapshot that is first saved to ``path``. ``notebook_dir``
    is the folder of the notebook showing it (default: the run folder of a runner-executed
    stage, where the executed notebook is kept; else ``notebooks/``), so the iframe's relative
    ``src`` works in the notebook exported to HTML next to it.
    """
    if not isinstance(report, str | os.PathLike):
        if path is None:
            raise ValueError("show_report needs path= to save a snapshot to")
        page = save_report(report, path, ws)
    else:
        page = Path(report)
    if not page.is_file():
        raise FileNotFoundError(f"no report at {page}")
    nb_dir = Path(notebook_dir) if notebook_dir is not None else _default_notebook_dir(page, ws)
    return ReportView(page, _rel(page, nb_dir), ws.relative(page), height)
