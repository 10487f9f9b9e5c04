"""``widgets.compare(stage, metric)``: a metric across a stage's runs and the parameters against
it, redrawn when a filter changes (the drawing is :mod:`~nbtrail.widgets.metric_plots`)."""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from nbtrail.core.errors import NbtrailError
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index
from nbtrail.widgets import html as h
from nbtrail.widgets import metric_plots, run_table
from nbtrail.widgets.static import StaticBox

MAX_RUNS = 1000  # the newest runs drawn


class CompareView(StaticBox):
    """One stage's runs on one metric (see :func:`nbtrail.widgets.compare`)."""

    def __init__(
        self,
        ws: Workspace,
        stage: str,
        metric: str | None,
        *,
        status: str | None = "completed",
        params: str = "",
        metrics: str = "",
        max_runs: int = MAX_RUNS,
    ) -> None:
        super().__init__()
        self.ws = ws
        self.stage = stage
        self.max_runs = max_runs
        self.png = b""
        self.frame = metric_plots.compare_frame([], metric or "")
        names = index.stage_metrics(ws, stage)
        chosen = metric or (names[0] if names else "")
        self.metric = w.Dropdown(
            options=sorted({*names, chosen} - {""}), value=chosen or None, description="metric"
        )
        self.status = w.Dropdown(
            options=[("any", ""), *[(s, s) for s in run_table.STATUSES]],
            value=status or "",
            description="status",
        )
        self.params = w.Text(
            value=params, description="params", placeholder="model=random_forest",
            continuous_update=False,
        )  # fmt: skip
        self.metrics = w.Text(
            value=metrics, description="metrics", placeholder="roc_auc>0.9",
            continuous_update=False,
        )  # fmt: skip
        self.message = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        for ctl in (self.metric, self.status, self.params, self.metrics):
            ctl.observe(self._on_filter, "value")
        self.add_class("nbtrail-compare")
        self.children = [
            w.HBox([self.metric, self.status]),
            w.HBox([self.params, self.metrics]),
            self.message,
            self.image,
        ]
        self.redraw()

    def redraw(self) -> None:
        """Query the runs the filters keep, rebuild the frame and the picture."""
        metric = self.metric.value
        if not metric:
            self.message.value = h.para(f"no {self.stage} run has logged a metric yet", muted=True)
            self.image.layout.display = "none"
            return
        flt = run_table.RunFilter.of(
            stage=self.stage,
            status=self.status.value,
            params=self.params.value,
            metrics=self.metrics.value,
        )
        try:
            rows = index.query_runs(
                self.ws,
                stage=self.stage,
                status=flt.status,
                params=index.parse_param_filters(flt.params),
                metrics=[index.parse_metric_filter(m) for m in flt.metrics],
                limit=self.max_runs,
            )
        except NbtrailError as exc:
            self.message.value = h.error(str(exc))
            return
        self.frame = metric_plots.compare_frame(rows, metric)
        fig = metric_plots.compare_figure(self.frame, metric, self.stage)
        self.png = h.figure_png(fig)
        self.image.value = self.png
        self.image.layout.display = None
        shown = len(self.frame)
        vary = metric_plots.varying(self.frame, metric)
        line = (
            f"{shown} {self.stage} run{'s' if shown != 1 else ''} with {metric} ({flt.describe()})"
        )
        if vary:
            line += f"; parameters that vary: {', '.join(vary)}"
        self.message.value = h.para(line, muted=True)

    def static_html(self) -> str:
        picture = h.img(self.png, f"{self.stage} runs on {self.metric.value}") if self.png else ""
        return self.message.value + picture

    def __repr__(self) -> str:
        return f"<nbtrail compare: {len(self.frame)} {self.stage} runs on {self.metric.value}>"

    def _on_filter(self, change: dict[str, Any]) -> None:
        self.redraw()
