"""Reports saved small with one shared bundle, shown inline by a small snippet, notebooks signed.

Real Evidently (a small drift report), real nbformat notary with its own data dir.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from nbtrail.pipeline import signing
from nbtrail.practices import reports


def make_snapshot():
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"age": rng.normal(40, 5, 300), "city": rng.choice(["a", "b"], 300)})
    cur = pd.DataFrame({"age": rng.normal(45, 5, 200), "city": rng.choice(["a", "b"], 200)})
    definition = DataDefinition(numerical_columns=["age"], categorical_columns=["city"])
    return Report([DataDriftPreset()], include_tests=True).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )


@pytest.fixture(scope="module")
def snapshot():
    return make_snapshot()


def script_and_font(page: Path) -> tuple[Path, Path]:
    text = page.read_text()
    scripts = re.findall(r'<script src="([^"]+)"', text)
    fonts = re.findall(r"src: url\(([^)]+)\);", text)
    assert len(scripts) == 1 and len(fonts) == 1, (scripts, fonts)
    return (page.parent / scripts[0]).resolve(), (page.parent / fonts[0]).resolve()


def test_saved_report_is_small_and_loads_the_one_shared_bundle(ws, snapshot, tmp_path):
    full = tmp_path / "full.html"
    snapshot.save_html(str(full))
    a = reports.save_report(snapshot, ws.run_dir("monitor-1") / "outputs" / "drift.html", ws)
    b = reports.save_report(snapshot, ws.runs_dir / "monitor-2" / "x" / "y" / "drift.html", ws)
    assert a.stat().st_size < full.stat().st_size / 10
    assert "drawDashboard(report_" in a.read_text() and '"age"' in a.read_text()
    assert sorted(p.name for p in ws.assets_dir.iterdir()) == [
        reports.bundle_name(),
        reports.FONT_NAME,
    ]
    bundle = ws.assets_dir / reports.bundle_name()
    for page in (a, b):
        js, font = script_and_font(page)
        assert js == bundle.resolve() and font == (ws.assets_dir / reports.FONT_NAME).resolve()
    assert bundle.stat().st_size > 1_000_000  # the real bundle, stored once
    assert "drawDashboard" in bundle.read_text()


def test_same_snapshot_renders_to_the_same_bytes(ws, snapshot):
    from evidently.core.report import Snapshot

    a = reports.save_report(snapshot, ws.root / "a" / "r.html", ws).read_bytes()
    b = reports.save_report(snapshot, ws.root / "b" / "r.html", ws).read_bytes()
    assert a == b
    loaded = Snapshot.loads(snapshot.dumps())
    c = reports.save_report(loaded, ws.root / "c" / "r.html", ws).read_bytes()
    assert c == a
    again = make_snapshot()  # computed again: new random widget ids inside Evidently
    assert again.dict()["metrics"] == snapshot.dict()["metrics"]
    d = reports.save_report(again, ws.root / "d" / "r.html", ws).read_bytes()
    assert d == a


def test_show_report_puts_a_small_snippet_in_the_notebook(ws, snapshot, monkeypatch):
    monkeypatch.delenv(reports.RUN_DIR_ENV, raising=False)
    page = reports.save_report(snapshot, ws.run_dir("monitor-1") / "outputs" / "drift.html", ws)
    assert reports.show_report(page, ws).src == "../workspace/runs/monitor-1/outputs/drift.html"
    (ws.run_dir("monitor-1") / "05_monitor.ipynb").write_text("{}")  # the executed notebook
    view = reports.show_report(page, ws)
    html = view._repr_html_()
    assert len(html) < 4_000
    assert view.src == "outputs/drift.html"  # relative to the run folder (executed notebook)
    assert (ws.run_dir("monitor-1") / view.src).resolve() == page.resolve()
    assert view.files_path == "workspace/runs/monitor-1/outputs/drift.html"
    assert 'src": "outputs/drift.html"' in html and "jupyter-config-data" in html
    assert "drawDashboard" not in html
    monkeypatch.setenv(reports.RUN_DIR_ENV, str(ws.run_dir("monitor-1") / "outputs"))
    assert reports.show_report(page, ws).src == "drift.html"


def test_show_report_saves_a_snapshot_and_resolves_from_the_notebooks_folder(
    ws, snapshot, monkeypatch
):
    monkeypatch.delenv(reports.RUN_DIR_ENV, raising=False)
    view = reports.show_report(snapshot, ws, path=ws.workspace_dir / "tmp" / "r.html")
    assert (ws.workspace_dir / "tmp" / "r.html").is_file()
    assert view.src == "../workspace/tmp/r.html"
    assert (ws.notebooks_dir / view.src).resolve() == (ws.workspace_dir / "tmp/r.html").resolve()
    with pytest.raises(ValueError, match="path="):
        reports.show_report(snapshot, ws)
    with pytest.raises(FileNotFoundError):
        reports.show_report(ws.root / "nope.html", ws)


def test_trust_notebook_signs_an_executed_notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={"text/html": "<script>1</script>"}, metadata={}
        )
    ]
    nb.cells = [cell]
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    data_dir = str(tmp_path / "jupyter-data")
    assert not signing.is_trusted(path, data_dir)
    assert signing.trust_notebook(path, data_dir)
    assert signing.is_trusted(path, data_dir)
    nb.cells[0].outputs[0]["data"]["text/html"] = "<script>2</script>"
    nbformat.write(nb, path)
    assert not signing.is_trusted(path, data_dir)


def test_repeated_plotly_templates_are_stored_once_and_restored_exactly():
    template = {"layout": {"paper_bgcolor": "white", "colorway": ["#ed0400"]}}
    figures = [
        {"layout": {"template": template, "title": i}, "data": [{"y": [1 / 3, 2.0]}]}
        for i in range(5)
    ]
    templates: list[str] = []
    out = reports._compact(figures, templates, {})
    assert len(templates) == 1
    assert all(f["layout"]["template"] == {"__nbtrail_t": 0} for f in out)
    assert out[0]["data"][0]["y"] == [0.333333, 2.0]
    restored = [{**f, "layout": {**f["layout"], "template": json.loads(templates[0])}} for f in out]
    assert [f["layout"] for f in restored] == [f["layout"] for f in figures]


def test_page_restores_templates_before_drawing(ws, snapshot):
    text = reports.save_report(snapshot, ws.root / "r.html", ws).read_text()
    data_at, restore_at = text.index("var report_"), text.index("__nbtrail_t !== undefined")
    assert data_at < restore_at < text.index("window.drawDashboard(")
    assert '"template":{"__nbtrail_t":0}' in text
