"""nbtrail.widgets without a browser: the view logic (filters, sorting, tables, plots, the
parameters form) and the widgets driven as a click would, over an index of synthetic runs."""

from __future__ import annotations

import html
import json
import subprocess
import sys
import time

import nbformat
import pytest
from _records import Factory

from nbtrail import widgets
from nbtrail.core.errors import ParameterError
from nbtrail.pipeline import widget_outputs
from nbtrail.runs import index
from nbtrail.widgets import metric_plots, param_form, run_table
from nbtrail.widgets.static import StaticBox

VIEW = widget_outputs.VIEW


@pytest.fixture
def chains(ws):
    """Three data -> train -> evaluate -> export chains (C and AUC differ), plus a failed train."""
    f = Factory(ws)
    out = [f.chain(C=c, auc=auc) for c, auc in ((0.5, 0.91), (1.0, 0.95), (2.0, 0.93))]
    f.write(f.record("train", status="failed", params={"C": 4.0, "seed": 0}))
    return out


def ids(browser) -> list[str]:
    return [r.run_id for r in browser.result.rows]


def test_split_terms_keeps_brackets_and_quotes_whole():
    assert run_table.split_terms("C=0.5, grid=[1, 2]; name='a,b'\nx=1") == (
        "C=0.5",
        "grid=[1, 2]",
        "name='a,b'",
        "x=1",
    )
    assert run_table.split_terms(" , ") == ()


def test_query_page_counts_every_match_and_reads_one_page(ws, chains):
    page = index.query_page(ws, stage="evaluate", sort_by="roc_auc", limit=2)
    assert page.total == 3
    assert [r.metrics["roc_auc"] for r in page.rows] == [0.95, 0.93]
    assert index.query_page(ws, status="failed").total == 1
    assert index.query_page(ws, params={"C": 1}, stage="train").total == 1  # 1 matches 1.0
    assert index.stage_names(ws) == ["data", "evaluate", "export", "train"]
    assert index.stage_metrics(ws, "evaluate") == ["accuracy", "roc_auc"]


def test_run_browser_filters_sorts_and_refuses_a_bad_filter_as_the_cli_does(ws, chains):
    b = widgets.runs(ws=ws)
    assert b.result.total == 13 and len(b.result.rows) == 13
    b.stage.value = "evaluate"
    assert {r.stage for r in b.result.rows} == {"evaluate"}
    assert ids(b) == [c["evaluate"]["run_id"] for c in reversed(chains)]  # newest first
    b.sort.value = "roc_auc"
    assert [r.metrics["roc_auc"] for r in b.result.rows] == [0.95, 0.93, 0.91]
    b.ascending.value = True
    assert [r.metrics["roc_auc"] for r in b.result.rows] == [0.91, 0.93, 0.95]
    assert "0.91" in b.table.value and "roc_auc" in b.table.value
    b.metrics.value = "roc_auc>0.92"
    assert [r.metrics["roc_auc"] for r in b.result.rows] == [0.93, 0.95]
    b.stage.value, b.metrics.value = "train", ""
    b.params.value = "C=2"
    assert ids(b) == [chains[2]["train"]["run_id"]]
    b.params.value = ""
    b.status.value = "failed"
    assert [r.status for r in b.result.rows] == ["failed"]
    b.status.value = ""
    b.metrics.value = "roc_auc>>1"
    with pytest.raises(ParameterError) as cli_error:
        index.parse_metric_filter("roc_auc>>1")
    assert b.result.rows == [] and "is not a number" in b.message.value
    assert html.escape(str(cli_error.value)) in b.message.value


def test_run_browser_shows_one_run_or_the_diff_of_two(ws, chains):
    b = widgets.runs("evaluate", sort_by="roc_auc", ws=ws)
    best, second = b.result.rows[0].run_id, b.result.rows[1].run_id
    b.select(best)
    assert f"run {best}" in b.detail.value
    assert "lineage" in b.detail.value and "run train-" in b.detail.value  # its upstream run
    assert "report report" in b.detail.value  # a link to its report output
    b.select(best, second)
    older, newer = sorted([best, second])
    assert f"a: {older}" in b.detail.value and f"b: {newer}" in b.detail.value
    assert "b - a" in b.detail.value and ">-0.02<" in b.detail.value  # 0.95 then 0.93
    b.select(*ids(b))
    assert "at most two" in b.detail.value


def test_a_view_displays_the_widget_and_a_static_table_marked_for_the_runner(ws, chains):
    b = widgets.runs("evaluate", ws=ws)
    assert isinstance(b, StaticBox)
    data, meta = b._repr_mimebundle_()
    assert VIEW in data and meta == {widget_outputs.STATIC_MARK: True}
    html = data["text/html"]
    assert all(c["evaluate"]["run_id"] in html for c in chains)
    assert data["text/plain"].startswith("<nbtrail run browser: 3 runs")


def test_hostile_strings_are_escaped_in_tables(ws):
    f = Factory(ws)
    f.write(f.record("train", params={"name": "<script>alert(1)</script>", "x": 1}))
    f.write(f.record("train", params={"name": "b", "x": 2}))
    html = widgets.runs("train", ws=ws).static_html()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_compare_draws_the_metric_and_the_parameters_against_it(ws, chains):
    rows = index.query_runs(ws, stage="train")
    frame = metric_plots.compare_frame(rows, "train_auc")
    assert list(frame["C"]) == [0.5, 1.0, 2.0]  # oldest first; the failed run logged nothing
    assert metric_plots.varying(frame, "train_auc") == ["C"]
    view = widgets.compare("train", "train_auc", ws=ws)
    assert view.png.startswith(b"\x89PNG") and "parameters that vary: C" in view.message.value
    assert "data:image/png;base64," in view.static_html()
    view.params.value = "C=0.5"
    assert len(view.frame) == 1
    assert widgets.compare("nothing", ws=ws).static_html().count("no nothing run") == 1


def test_parallel_coordinates_axes_are_the_varying_parameters(ws):
    f = Factory(ws)
    for i, (model, depth) in enumerate([("a", 2), ("b", 3), ("a", 4)]):
        params = {"model": model, "depth": depth, "seed": 0, "boot": {"n": 10 * (i + 1)}}
        f.write(f.record("train", params=params, metrics={"auc": 0.9 + i / 100}))
    frame = metric_plots.compare_frame(index.query_runs(ws, stage="train"), "auc")
    assert metric_plots.varying(frame, "auc") == ["boot.n", "depth", "model"]
    fig = metric_plots.compare_figure(frame, "auc", "train")
    right = fig.axes[1]
    assert [t.get_text() for t in right.get_xticklabels()] == ["boot.n", "depth", "model", "auc"]


def test_default_metric_is_the_first_the_latest_run_summarizes(ws):
    f = Factory(ws)
    f.write(f.record("evaluate", metrics={"a": 1.0, "roc_auc": 0.9}))
    assert metric_plots.default_metric(ws, "evaluate") == "a"
    summary = {"summary": {"metrics": ["roc_auc", "a"], "lines": []}}
    f.write(f.record("evaluate", metrics={"a": 1.0, "roc_auc": 0.9}, extra=summary))
    assert metric_plots.default_metric(ws, "evaluate") == "roc_auc"
    assert metric_plots.default_metric(ws, "nope") is None


def test_empty_workspace_views_say_so(ws):
    assert "no runs" in widgets.workspace_line(ws)
    assert "no runs yet" in widgets.runs(ws=ws).static_html()
    assert "no monitoring history yet" in widgets.monitoring(ws=ws).static_html()
    with pytest.raises(Exception, match="no run 'nope'"):
        widgets.ab("nope", ws=ws)


def test_choices_come_from_the_parameters_cell_comment():
    assert param_form.choices('"random" (stratified) or "time" (oldest train)', "random") == (
        "random",
        "time",
    )
    listed = "logistic_regression, hist_gradient_boosting, random_forest"
    assert param_form.choices(listed, "random_forest") == tuple(listed.split(", "))
    assert param_form.choices('"demo", or comma-separated dataset names', "demo") == ()
    assert param_form.choices("roc_auc for classifiers, rmse for regression", "auto") == ()
    assert param_form.choices('"a" or "b"', 3) == ()


def _stage_project(tmp_path, params_cell: str, params_yaml: str = ""):
    root = tmp_path / "proj"
    (root / "notebooks").mkdir(parents=True)
    (root / "params").mkdir()
    (root / "workspace").mkdir()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(params_cell)
    cell.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# a stage"), cell]
    nbformat.write(nb, root / "notebooks" / "s.ipynb")
    (root / "params" / "s.yaml").write_text(params_yaml)
    (root / "params" / "pipeline.yaml").write_text(
        "version: 1\nstages:\n  s:\n    notebook: notebooks/s.ipynb\n    params: params/s.yaml\n"
    )
    return root


def test_params_form_fields_overrides_and_the_cli_message(tmp_path):
    root = _stage_project(
        tmp_path,
        'depth = 3\nmode = "fast"  # "fast" or "slow"\nverbose = False\ngrid = {"a": 1}\n',
        "depth: 5\n",
    )
    form = widgets.params("s", ws=root)
    by_name = {f.name: f for f in form.fields}
    assert (by_name["depth"].value, by_name["depth"].source) == (5, "params/s.yaml")
    assert by_name["mode"].choices == ("fast", "slow") and by_name["grid"].text == '{"a": 1}'
    assert form.overrides() == []
    form.inputs["mode"].value = "slow"
    form.inputs["verbose"].value = True
    form.extra.value = "grid.b=2\n"
    assert form.overrides() == ["s.mode=slow", "s.verbose=true", "s.grid.b=2"]
    rp = form.check()
    assert rp is not None and rp.params["s"]["grid"] == {"a": 1, "b": 2}
    assert rp.params["s"]["verbose"] is True
    form.inputs["depth"].value = "deep"
    assert form.check() is None
    cli = subprocess.run(
        [sys.executable, "-m", "nbtrail", "-C", str(root), "run", "--stage", "s", "-p", "s.depth=deep"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == ParameterError.exit_code
    message = cli.stderr.strip().splitlines()[-1].removeprefix("nbtrail: error: ")
    assert message == "stage 's': parameter 'depth' expects int, got str 'deep'"
    assert html.escape(message) in form.message.value
    form.inputs["depth"].value = "5"
    form.extra.value = "dept=4"
    assert form.check() is None and "unknown parameter &#x27;dept&#x27;" in form.message.value


def test_freeze_keeps_the_static_rendering_and_drops_dead_widget_state():
    def out(model_id, marked, extra=True):
        data = {VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}}
        if extra:
            data["text/html"] = "<table>static</table>"
        md = {widget_outputs.STATIC_MARK: True} if marked else {}
        return nbformat.v4.new_output("display_data", data=data, metadata=md)

    def state(*refs):
        return {"model_name": "VBoxModel", "state": {"children": [f"IPY_MODEL_{r}" for r in refs]}}

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("x", outputs=[out("box", True), out("bar", False, False)])
    ]
    models = {
        "box": state("html", "shared"),
        "html": state(),
        "shared": state(),
        "bar": state("shared"),
    }
    nb.metadata["widgets"] = {widget_outputs.STATE: {"state": models, "version_major": 2}}
    assert widget_outputs.freeze(nb)
    first, second = nb.cells[0].outputs
    assert VIEW not in first.data and first.data["text/html"] == "<table>static</table>"
    assert VIEW in second.data  # another library's widget is left alone, with what it shows
    assert sorted(nb.metadata["widgets"][widget_outputs.STATE]["state"]) == ["bar", "shared"]
    assert not widget_outputs.freeze(nb)
    # once no output shows a widget (a bar replaced by its last line), no state is kept
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "done"})]
    assert widget_outputs.freeze(nb) and "widgets" not in nb.metadata


def test_bootstrap_reports_progress_through_the_optional_callback():
    import numpy as np

    from nbtrail import evaluation as ev

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    score = np.clip(y * 0.6 + rng.normal(0.2, 0.2, 400), 0, 1)
    seen: list[tuple[int, int]] = []
    plain = ev.evaluate_holdout(y, score, n_boot=300)
    tracked = ev.evaluate_holdout(y, score, n_boot=300, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1] == (300, 300) and all(t == 300 for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert {k: v.to_dict() for k, v in plain.items()} == {
        k: v.to_dict() for k, v in tracked.items()
    }


def test_progress_outside_a_notebook_is_a_text_bar(capsys):
    bar = widgets.progress("bootstrap")
    assert not bar.notebook
    bar(50, 100)
    bar(100, 100)
    time.sleep(0.01)
    assert "bootstrap" in capsys.readouterr().err and bar.line().startswith("bootstrap: 100 of 100")


def test_a_running_stage_shows_its_own_outputs_so_far(ws, monkeypatch):
    """Under the runner a run's record gets its outputs at the end; until then state.json
    has them, so a stage notebook can show ``widgets.ab(run.run_id)`` of itself."""
    import numpy as np

    from nbtrail import abtest
    from nbtrail.core.hashing import hash_file

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    champion = np.clip(y * 0.3 + rng.uniform(0, 0.7, 300), 0, 1)
    challenger = np.clip(y * 0.6 + rng.uniform(0, 0.4, 300), 0, 1)
    comparison = abtest.compare_offline(y, champion, challenger, n_boot=200)
    f = Factory(ws)
    rec = f.write(f.record("evaluate", status="running"))
    run_dir = ws.run_dir(rec["run_id"])
    out = run_dir / "outputs" / "ab_offline.json"
    out.parent.mkdir(parents=True)
    out.write_text(json.dumps(comparison))
    art = {"name": "ab_offline", "kind": "json", "path": ws.relative(out), "digest": hash_file(out)}
    state = {"inputs": [], "outputs": {"ab_offline": art}, "metrics": {}, "verdicts": {}}
    (run_dir / "state.json").write_text(json.dumps(state))
    monkeypatch.setenv("NBTRAIL_RUN_DIR", str(run_dir))  # as the runner sets it in the kernel
    view = widgets.ab(rec["run_id"], ws=ws)
    assert comparison["decision"] in view.sections[0]
    assert all(f">{m}</td>" in view.sections[0] for m in comparison["metrics"])
    assert "no online experiment" in view.sections[1]
    from nbtrail.widgets import html as h

    assert h.link(out, "it") == '<a href="outputs/ab_offline.json" target="_blank">it</a>'
