"""``widgets.runs()``: the run browser. Filters, a sort, a page of runs; select one run for its
detail, two for their diff. The logic is :mod:`~nbtrail.widgets.run_table` and
:mod:`~nbtrail.widgets.run_detail`; this module only wires widgets to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w

from nbtrail.core.errors import NbtrailError
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index
from nbtrail.runs.index import RunPage
from nbtrail.widgets import html as h
from nbtrail.widgets import run_detail, run_table
from nbtrail.widgets.static import StaticBox

PAGE_SIZES = (10, 25, 50, 100, 500)
HINT = "select one run for its detail, two for their diff (ctrl/shift-click)"


def _wide(width: str = "auto") -> w.Layout:
    return w.Layout(width=width)


class RunBrowser(StaticBox):
    """The run browser over the workspace's index (see :func:`nbtrail.widgets.runs`)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        flt: run_table.RunFilter | None = None,
        start: Path | None = None,
    ) -> None:
        super().__init__()
        flt = flt or run_table.RunFilter()
        self.ws = ws
        self.start = start
        self.result = RunPage([], 0)
        self.preferred: dict[str, list[str]] = {}
        self._quiet = False
        stages = sorted(set(index.stage_names(ws)) | ({flt.stage} if flt.stage else set()))
        self.stage = w.Dropdown(
            options=[("any", ""), *[(s, s) for s in stages]], value=flt.stage or "",
            description="stage",
        )  # fmt: skip
        self.status = w.Dropdown(
            options=[("any", ""), *[(s, s) for s in run_table.STATUSES]],
            value=flt.status or "",
            description="status",
        )
        self.sort = w.Dropdown(description="sort by", options=self._sort_options(flt))
        self.sort.value = flt.sort_by or ""
        self.ascending = w.Checkbox(value=flt.ascending, description="lowest first", indent=False)
        self.limit = w.Dropdown(
            options=sorted({*PAGE_SIZES, flt.limit}), value=flt.limit, description="show",
            layout=_wide("160px"),
        )  # fmt: skip
        self.params = w.Text(
            value=", ".join(flt.params), description="params", placeholder="C=0.5, model=linear",
            continuous_update=False, layout=_wide("45%"),
        )  # fmt: skip
        self.metrics = w.Text(
            value=", ".join(flt.metrics), description="metrics", placeholder="roc_auc>0.9",
            continuous_update=False, layout=_wide("45%"),
        )  # fmt: skip
        self.message = w.HTML()
        self.table = w.HTML()
        self.pick = w.SelectMultiple(options=[], rows=6, description="select", layout=_wide("60%"))
        self.detail = w.HTML()
        for ctl in (self.stage, self.status, self.sort, self.ascending, self.limit):
            ctl.observe(self._on_filter, "value")
        for ctl in (self.params, self.metrics):
            ctl.observe(self._on_filter, "value")
        self.pick.observe(self._on_pick, "value")
        self.add_class("nbtrail-runs")
        self.children = [
            w.HBox([self.stage, self.status, self.sort, self.ascending, self.limit]),
            w.HBox([self.params, self.metrics]),
            self.message,
            self.table,
            w.HBox([self.pick, w.HTML(h.para(HINT, muted=True))]),
            self.detail,
        ]
        self.redraw()

    # -- what the user sees -------------------------------------------------------------------
    def filter(self) -> run_table.RunFilter:
        """The filter the fields hold now."""
        return run_table.RunFilter.of(
            stage=self.stage.value,
            status=self.status.value,
            params=self.params.value,
            metrics=self.metrics.value,
            sort_by=self.sort.value,
            ascending=self.ascending.value,
            limit=self.limit.value,
        )

    def redraw(self) -> None:
        """Query the index with the current filter; redraw the table, the selection list and
        the detail (what a filter change costs: see bench/bench_widgets.py)."""
        flt = self.filter()
        try:
            self.result = run_table.page(self.ws, flt)
            self.preferred = run_table.preferred_metrics(self.ws, self.result.rows)
            self.message.value = ""
        except NbtrailError as exc:  # a bad filter: nbtrail runs' own message
            self.result = RunPage([], 0)
            self.preferred = {}
            self.message.value = h.error(str(exc))
        kept = tuple(v for v in self.pick.value if v in {r.run_id for r in self.result.rows})
        self.table.value = self._table(flt, kept)
        self._quiet = True
        try:
            self.pick.options = [
                (run_table.option_label(r, flt.sort_by), r.run_id) for r in self.result.rows
            ]
            self.pick.value = kept
        finally:
            self._quiet = False
        self._show_detail()

    def select(self, *run_ids: str) -> None:
        """Select runs as a click would (one: its detail; two: their diff)."""
        self.pick.value = tuple(run_ids)

    def static_html(self) -> str:
        return self.message.value + self.table.value + self.detail.value

    def __repr__(self) -> str:
        return f"<nbtrail run browser: {run_table.summary_line(self.result, self.filter())}>"

    # -- events -------------------------------------------------------------------------------
    def _sort_options(self, flt: run_table.RunFilter) -> list[tuple[str, str]]:
        names = index.stage_metrics(self.ws, flt.stage)
        if flt.sort_by and flt.sort_by not in names:
            names.append(flt.sort_by)
        return [("newest first", ""), *[(n, n) for n in names]]

    def _table(self, flt: run_table.RunFilter, selected: tuple[str, ...]) -> str:
        return run_table.table_html(
            self.result, flt, preferred=self.preferred, selected=tuple(selected)
        )

    def _on_filter(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if change["owner"] is self.stage:
            self._quiet = True
            try:
                current = self.sort.value
                self.sort.options = self._sort_options(
                    run_table.RunFilter(stage=self.stage.value or None, sort_by=current or None)
                )
                self.sort.value = current
            finally:
                self._quiet = False
        self.redraw()

    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self.table.value = self._table(self.filter(), self.pick.value)
            self._show_detail()

    def _show_detail(self) -> None:
        chosen = [r for r in self.result.rows if r.run_id in self.pick.value]
        if not chosen:
            self.detail.value = ""
        elif len(chosen) == 1:
            self.detail.value = run_detail.run_html(self.ws, chosen[0].run_id, start=self.start)
        elif len(chosen) == 2:
            older, newer = sorted(chosen, key=lambda r: (r.started, r.run_id))
            self.detail.value = run_detail.diff_html(self.ws, older.run_id, newer.run_id)
        else:
            self.detail.value = h.para("select at most two runs (two: their diff)", muted=True)
