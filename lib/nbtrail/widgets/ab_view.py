"""``widgets.ab(run)``: an evaluate run's A/B outcome in tabs: the decision and the paired
offline tests, the simulated online experiment, the holdout metrics and gates, the Evidently
comparison report (the content is :mod:`~nbtrail.widgets.ab_outcome`)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from nbtrail.core.workspace import Workspace
from nbtrail.practices.reports import show_report
from nbtrail.widgets import ab_outcome
from nbtrail.widgets import html as h
from nbtrail.widgets.static import StaticBox

TABS = ("decision and offline tests", "online experiment", "holdout and gates", "Evidently")


class ABView(StaticBox):
    """The A/B outcome of one evaluate run (see :func:`nbtrail.widgets.ab`)."""

    def __init__(self, ws: Workspace, outcome: ab_outcome.Outcome, *, start: Path | None = None):
        super().__init__()
        self.ws = ws
        self.outcome = outcome
        effect = h.figure_png(ab_outcome.effect_figure(outcome))
        looks = h.figure_png(ab_outcome.looks_figure(outcome.online)) if outcome.online else b""
        self.sections = [
            ab_outcome.decision_html(outcome) + ab_outcome.offline_html(outcome, effect),
            ab_outcome.online_html(outcome, looks),
            ab_outcome.holdout_html(outcome),
        ]
        self.report_html = ""
        report = w.Output()
        if outcome.report is not None:
            view = show_report(outcome.report, ws, notebook_dir=start or h.notebook_dir())
            self.report_html = view._repr_html_()
            report.append_display_data(view)
        else:
            report.append_display_data(w.HTML(h.para("no Evidently comparison saved", muted=True)))
        tabs = w.Tab(children=[*[w.HTML(s) for s in self.sections], report])
        tabs.titles = TABS
        self.add_class("nbtrail-ab")
        self.children = [tabs]

    def static_html(self) -> str:
        return "".join(self.sections) + self.report_html

    def __repr__(self) -> str:
        d = self.outcome.decision or self.outcome.offline
        return f"<nbtrail A/B outcome of {self.outcome.run_id}: {d.get('decision')}>"
