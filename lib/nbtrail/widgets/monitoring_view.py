"""``widgets.monitoring()``: the batches monitored over time (drift share, accuracy); click a
batch for its verdict and its Evidently drift report (content: :mod:`~nbtrail.widgets.batches`)."""

from __future__ import annotations

from pathlib import Path

import ipywidgets as w

from nbtrail.core.workspace import Workspace
from nbtrail.widgets import batches
from nbtrail.widgets import html as h
from nbtrail.widgets.static import StaticBox


class MonitoringView(StaticBox):
    """The monitoring history with one button per batch (see :func:`nbtrail.widgets.monitoring`)."""

    def __init__(self, ws: Workspace, *, limit: int = 30, start: Path | None = None) -> None:
        super().__init__()
        self.ws = ws
        self.start = start
        self.history = batches.history(ws, limit)
        self.png = b""
        self.chosen: tuple[str, str] | None = None
        self.detail = w.Output()  # an Output, not an HTML widget: the report's script must run
        self.detail_html = ""
        self.buttons: list[w.Button] = []
        children: list[w.Widget] = []
        if self.history.empty:
            children.append(w.HTML(batches.history_html(self.history)))
        else:
            self.png = batches.history_png(self.history, fail_at=batches.drift_share_fail(ws))
            children.append(
                w.Image(value=self.png, format="png", layout=w.Layout(max_width="100%"))
            )
            for row in self.history.itertuples():
                b = w.Button(
                    description=batches.label(row),
                    tooltip=str(row.summary),
                    button_style=batches.BUTTON_STYLES.get(row.status, ""),
                    layout=w.Layout(width="auto"),
                )
                b.on_click(lambda _b, r=row.run_id, n=row.batch: self.show(r, n))
                self.buttons.append(b)
            children.append(w.HTML(h.para("click a batch for its verdict and report", muted=True)))
            children.append(w.HBox(self.buttons, layout=w.Layout(flex_flow="row wrap")))
        self.add_class("nbtrail-monitoring")
        self.children = [*children, self.detail]

    def show(self, run_id: str, batch: str) -> None:
        """What a click on a batch does: its verdict and drift report below the history."""
        from IPython.display import HTML

        self.chosen = (run_id, batch)
        self.detail_html = batches.batch_html(self.ws, run_id, batch, start=self.start)
        self.detail.outputs = ()
        self.detail.append_display_data(HTML(self.detail_html))

    def static_html(self) -> str:
        picture = h.img(self.png, "monitoring history") if self.png else ""
        return picture + batches.history_html(self.history) + self.detail_html

    def __repr__(self) -> str:
        return f"<nbtrail monitoring: {len(self.history)} batches>"
