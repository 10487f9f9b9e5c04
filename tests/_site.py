"""A small workspace for the site tests: a pipeline, two chains of runs from the record
factory, executed notebooks, a report page in the shape nbtrail saves, a registry and a
monitoring history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from _records import Factory, artifact
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from nbtrail.core.hashing import hash_bytes
from nbtrail.core.workspace import Workspace

PIPELINE = """\
version: 1
stages:
  data: {notebook: notebooks/data.ipynb, description: load and split}
  train: {notebook: notebooks/train.ipynb, needs: [data]}
  evaluate: {notebook: notebooks/evaluate.ipynb, needs: [data, train]}
  export: {notebook: notebooks/export.ipynb, needs: [train, evaluate]}
"""
BUNDLE = "evidently-0.7.23.js"

REPORT_PAGE = """
    <!DOCTYPE html>
    <html lang="en">
    <head>
<title>{title}</title>
        <style>
        @font-face {{ font-family: 'Material Icons'; src: url(../../../assets/material-ui-icons.woff2); }}
        </style>
        <script>
var report_{did} = {{"name":"Report","widgets":[{{"title":"{title}"}}]}};
var additional_graphs_report_{did} = {{}};
</script>
    </head>
    <body>
    <div id="root_report_{did}">
    </div>
    <script>var global = globalThis</script>
    <!-- no embedded lib -->
    <script src="../../../assets/{bundle}"></script>
    <script>
    window.drawDashboard(report_{did},
        new Map(Object.entries(additional_graphs_report_{did})),
        "root_report_{did}"
    );
    </script>
    </body>
    </html>
"""


def report_page(title: str, did: str = "0123abcd", bundle: str = BUNDLE) -> str:
    """A page shaped like the ones :func:`nbtrail.practices.reports.render_html` writes."""
    return REPORT_PAGE.format(title=title, did=did, bundle=bundle)


def write_notebook(path: Path, *, html: str | None = None, report: str | None = None) -> None:
    """An executed notebook: a story, a cell with output, optionally an HTML output and the
    snippet ``show_report`` leaves for a report at ``report`` (relative to the notebook)."""
    from nbtrail.practices.reports import ReportView

    cells = [
        new_markdown_cell("# The stage\n\nWhat it does, for a reader."),
        new_code_cell(
            "secret_looking_code = 42\nprint('hello from the cell')",
            outputs=[new_output("stream", name="stdout", text="hello from the cell\n")],
        ),
    ]
    if html is not None:
        cells.append(
            new_code_cell("show()", outputs=[new_output("display_data", data={"text/html": html})])
        )
    if report is not None:
        view = ReportView(path.parent / report, report, f"workspace/{report}", 400)
        cells.append(
            new_code_cell(
                "run.show_report(r)",
                outputs=[new_output("display_data", data={"text/html": view._repr_html_()})],
            )
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(new_notebook(cells=cells), path)


def make_workspace(ws: Workspace, *, hostile: str = "plain") -> dict[str, Any]:
    """Two chains of runs (train C=1 then C=2), notebooks, a report, registry, history."""
    (ws.params_dir / "pipeline.yaml").write_text(PIPELINE)
    for stage in ("data", "train", "evaluate", "export"):
        (ws.notebooks_dir / f"{stage}.ipynb").parent.mkdir(parents=True, exist_ok=True)
        (ws.notebooks_dir / f"{stage}.ipynb").write_text("{}")
    ws.assets_dir.mkdir(parents=True, exist_ok=True)
    (ws.assets_dir / BUNDLE).write_text("window.drawDashboard = function () {};\n")
    (ws.assets_dir / "material-ui-icons.woff2").write_bytes(b"font")
    f = Factory(ws)
    first = f.chain(C=1.0, auc=0.95, write=False)
    second = f.chain(C=2.0, auc=0.97, write=False)
    for chain in (first, second):
        ev = chain["evaluate"]
        ev["params"]["label"] = hostile
        page = ws.run_dir(ev["run_id"]) / "outputs" / "quality.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(report_page(f"quality {ev['run_id']}"))
        ev["outputs"]["quality"] = artifact(
            "quality", "report", hash_bytes(page.read_bytes()), path=ws.relative(page)
        )
        ev["verdicts"] = {"gate_min_roc_auc": {"passed": True, "value": 0.97, "bound": 0.9}}
        for rec in chain.values():
            nb = ws.root / rec["notebook"]["executed"]
            if rec["stage"] == "evaluate":
                write_notebook(
                    nb,
                    html=f"<table><tr><td>{hostile}</td></tr></table>",
                    report="outputs/quality.html",
                )
            else:
                write_notebook(nb)
            f.write(rec)
    return {"first": first, "second": second, "factory": f}
