"""nbtrail.widgets on a real pipeline run: the A/B outcome and the monitoring history of the
default pipeline, the parameters form running a stage through the runner, and a stage notebook
that shows widgets, saved by the runner with their static renderings (converted by nbconvert)."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from _project import by_stage, nbtrail

from nbtrail import widgets
from nbtrail.pipeline import widget_outputs
from nbtrail.pipeline.signing import is_trusted

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def project(tmp_path_factory, default_run):
    """The default pipeline, run once: (root, jupyter data dir where the runner signs)."""
    return default_run.copy(tmp_path_factory.mktemp("widgets") / "project")


def _output(root, run_id: str, name: str) -> dict:
    return json.loads(
        (root / "workspace" / "runs" / run_id / "outputs" / f"{name}.json").read_text()
    )


def test_ab_shows_the_evaluate_runs_decision_tests_looks_and_report(project, tmp_path):
    root, _ = project
    view = widgets.ab("evaluate", ws=root)
    (evaluate,) = by_stage(root)["evaluate"]
    offline = _output(root, evaluate["run_id"], "ab_offline")
    decision = _output(root, evaluate["run_id"], "ab_decision")
    online = _output(root, evaluate["run_id"], "ab_online")
    first, looks, holdout = view.sections
    assert "decision: <span" in first and decision["decision"] in first
    assert "McNemar" in first and first.count("<tr>") >= 1 + len(offline["metrics"])
    for metric in offline["metrics"]:
        assert f">{metric}</td>" in first  # a row per metric compared
    assert first.count("data:image/png;base64,") == 1  # the effect plot
    assert "z_bounds" not in looks and online["decision"] in looks
    assert looks.count("<tr>") == 1 + len(online["looks"]) and "data:image/png" in looks
    assert "holdout metrics" in holdout and "gain_over_baseline" in holdout
    assert "evidently_ab.html" in view.report_html and "<iframe" in view.report_html
    assert view.static_html().startswith(first)


def test_monitoring_shows_the_batches_and_a_clicked_batchs_verdict_and_report(project):
    root, _ = project
    view = widgets.monitoring(ws=root)
    assert [b.description.split(" · ")[0] for b in view.buttons] == [
        "clean", "covariate_drift", "concept_drift", "covariate_drift_unlabe",  # cut at 22
    ]  # fmt: skip
    assert [b.button_style for b in view.buttons] == ["success", "danger", "danger", "danger"]
    assert view.png.startswith(b"\x89PNG")
    (covariate,) = [b for b in view.buttons if b.description.startswith("covariate_drift ")]
    covariate.click()
    assert view.chosen[1] == "covariate_drift"
    assert "FAIL" in view.detail_html and "data drift in" in view.detail_html
    assert "drift_covariate_drift.html" in view.detail_html
    (shown,) = view.detail.outputs
    assert shown["data"]["text/html"] == view.detail_html
    assert "covariate_drift" in view.static_html()


def test_params_form_runs_the_stage_through_the_runner_recorded_and_reused(project):
    root, _ = project
    form = widgets.params("train", ws=root)
    form.inputs["max_depth"].value = "2"
    thread = form.run(wait=True)
    assert thread is not None and not thread.is_alive()
    (result,) = form.results
    assert result.status == "completed", form.summary.value
    runs = by_stage(root)["train"]
    assert len(runs) == 2 and runs[-1]["params"]["max_depth"] == 2
    assert runs[-1]["origin"] == "runner" and runs[-1]["run_id"] == result.run_id
    assert form._state is not None and form._state.finished
    assert form.bar.max == form._state.cells and form.bar.value == form.bar.max
    assert result.run_id in form.summary.value
    form.run(wait=True)  # nothing changed: the run is reused, not repeated
    assert [r.status for r in form.results] == ["cached"]
    assert len(by_stage(root)["train"]) == 2
    assert "unchanged, reusing run" in form.message.value


OVERVIEW = [
    "from nbtrail import widgets",
    "widgets.runs(limit=limit)",
    'widgets.ab("evaluate")',
    "widgets.monitoring()",
    'bar = widgets.progress("loop")\nfor i in range(1, 6):\n    bar(i, 5)',
]


def test_a_notebook_showing_widgets_is_saved_with_their_static_renderings(project, tmp_path):
    root, data_dir = project
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("limit = 10")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# overview"), params]
    nb.cells += [nbformat.v4.new_code_cell(src) for src in OVERVIEW]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, root / "notebooks" / "90_overview.ipynb")
    pipeline = root / "params" / "pipeline.yaml"
    text = pipeline.read_text()
    pipeline.write_text(
        text.replace(
            "profiles:", "  overview:\n    notebook: notebooks/90_overview.ipynb\nprofiles:"
        )
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(data_dir))
        proc = nbtrail(root, "run", "--stage", "overview")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (rec,) = by_stage(root)["overview"]
    executed = root / rec["notebook"]["executed"]
    saved = nbformat.read(executed, as_version=4)
    outputs = [o for c in saved.cells if c.cell_type == "code" for o in c.outputs]
    assert not any(widget_outputs.VIEW in o.get("data", {}) for o in outputs)
    assert "widgets" not in saved.metadata  # no widget state left to load from a CDN
    static = [o for o in outputs if o.get("metadata", {}).get(widget_outputs.STATIC_MARK)]
    assert len(static) == 3 and all("text/html" in o.data for o in static)
    assert any("loop: 5 of 5 in" in o.get("data", {}).get("text/plain", "") for o in outputs)
    assert is_trusted(executed, data_dir=str(data_dir))

    html_path = executed.with_suffix(".html")
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    page = html_path.read_text()
    assert "unpkg.com" not in page and "widget-view+json" not in page
    assert page.count('class="nbtrail-static"') == 3
    for stage in ("data", "train", "evaluate", "export", "monitor"):
        (first, *_) = by_stage(root)[stage]
        assert first["run_id"] in page, stage  # the run table, as a table
    assert page.count("data:image/png;base64,") >= 3  # effect plot, online looks, history
    assert ">covariate_drift</td>" in page  # the monitoring history's table
