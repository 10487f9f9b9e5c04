"""Views of the workspace for notebooks, each one line: ``from nbtrail import widgets``.

- :func:`runs`: the run browser (filter, sort, select one run for its detail, two for a diff);
- :func:`compare`: a metric across a stage's runs, and the parameters against it;
- :func:`ab`: an evaluate run's A/B outcome (decision, paired tests, online looks, report);
- :func:`monitoring`: the batches monitored over time; click one for its verdict and report;
- :func:`params`: a stage's parameters as a form, checked as ``-p`` is, with a "run" button;
- :func:`progress`: a progress bar callback for the library's long loops (the bootstrap).

The views are ipywidgets boxes; what they show is computed by plain functions in the
modules beside them (``run_table``, ``run_detail``, ``metric_plots``, ``ab_outcome``,
``batches``, ``param_form``), which tests call without a browser. Each view carries a static
rendering of its state (:mod:`nbtrail.widgets.static`), so an executed notebook exported to
HTML shows tables and pictures. ``ws`` is the workspace root (default: ``$NBTRAIL_ROOT`` or
the folder holding ``params/pipeline.yaml`` above the kernel's working folder).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Unpack

from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace

if TYPE_CHECKING:
    from nbtrail.widgets.progress_bar import ProgressBar
    from nbtrail.widgets.run_table import FilterFields
    from nbtrail.widgets.static import StaticBox

__all__ = ["ab", "compare", "monitoring", "params", "progress", "runs", "workspace_line"]

Root = str | os.PathLike[str] | Workspace | None


def _ws(root: Root) -> Workspace:
    return root if isinstance(root, Workspace) else Workspace.find(root)


def runs(stage: str | None = None, *, ws: Root = None, **fields: Unpack[FilterFields]) -> StaticBox:
    """The run browser, starting with these filters: ``status``, ``params="C=0.5"``,
    ``metrics="roc_auc>0.9"`` (as ``nbtrail runs --param/--metric`` take them), ``sort_by`` a
    metric, ``ascending``, ``limit`` (the page size, 25)."""
    from nbtrail.widgets.run_browser import RunBrowser
    from nbtrail.widgets.run_table import RunFilter

    return RunBrowser(_ws(ws), flt=RunFilter.of(stage=stage, **fields))


def compare(
    stage: str,
    metric: str = "auto",
    *,
    status: str | None = "completed",
    params: str = "",
    metrics: str = "",
    ws: Root = None,
) -> StaticBox:
    """``metric`` across the runs of ``stage`` and their parameters against it (``"auto"``:
    the first metric the stage's latest run summarizes)."""
    from nbtrail.widgets import metric_plots
    from nbtrail.widgets.compare_view import CompareView

    where = _ws(ws)
    chosen = metric_plots.default_metric(where, stage) if metric == "auto" else metric
    return CompareView(where, stage, chosen, status=status, params=params, metrics=metrics)


def ab(run: str = "evaluate", *, ws: Root = None) -> StaticBox:
    """The A/B outcome of an evaluate run (a run id or prefix; ``"evaluate"``: the latest).
    With no evaluate run yet, a line says so."""
    from nbtrail.runs import index
    from nbtrail.widgets import ab_outcome
    from nbtrail.widgets.ab_view import ABView
    from nbtrail.widgets.static import Notice

    where = _ws(ws)
    if run in _stages(where) and not index.query_runs(where, stage=run, limit=1):
        return Notice(
            f"no {run} run yet, so no A/B outcome: run the pipeline "
            "(`make run` or `nbtrail run`), then this cell again"
        )
    try:
        outcome = ab_outcome.load(where, run)
    except NotFound as exc:
        if run in _stages(where):  # its latest run saved no comparison (it failed early)
            return Notice(str(exc))
        raise
    return ABView(where, outcome)


def monitoring(*, limit: int = 30, ws: Root = None) -> StaticBox:
    """The last ``limit`` monitored batches over time; click one for its verdict and report."""
    from nbtrail.widgets.monitoring_view import MonitoringView

    return MonitoringView(_ws(ws), limit=limit)


def params(stage: str, *, ws: Root = None) -> StaticBox:
    """The parameters form of ``stage``, with a "run" button."""
    from nbtrail.widgets.params_view import ParamsForm

    return ParamsForm(_ws(ws), stage)


def progress(description: str = "") -> ProgressBar:
    """A ``(done, total)`` progress callback: a bar in a notebook, tqdm text elsewhere."""
    from nbtrail.widgets.progress_bar import ProgressBar

    return ProgressBar(description)


def workspace_line(ws: Root = None) -> str:
    """One line about the workspace's runs, or that it has none yet."""
    from nbtrail.widgets.run_table import workspace_line as line

    return line(_ws(ws))


def _stages(ws: Workspace) -> list[str]:
    from nbtrail.pipeline.config import load_pipeline

    return list(load_pipeline(ws).order)
