"""Widgets that carry a static rendering of their state.

Each view in :mod:`nbtrail.widgets` is a :class:`StaticBox`: displayed, it publishes one
bundle with the live widget view *and* a ``text/html`` rendering of its state (tables,
pictures), marked ``STATIC_MARK`` in the output's metadata. JupyterLab with a kernel shows the
widget; nbconvert's HTML of a notebook without saved widget state shows the static rendering;
the runner keeps only the static rendering in the notebooks it executes
(:mod:`nbtrail.pipeline.widget_outputs`), so a run's executed notebook shows tables and
pictures in JupyterLab and in exported HTML, never "Error displaying widget".
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w

from nbtrail.pipeline.widget_outputs import STATIC_MARK
from nbtrail.widgets import html as h


class StaticBox(w.VBox):
    """A vertical box of widgets whose display adds :meth:`static_html` to the bundle."""

    def static_html(self) -> str:
        """The state as HTML, for readers without a kernel."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["text/html"] = f'<div class="nbtrail-static">{self.static_html()}</div>'
        data["text/plain"] = repr(self)
        return data, {STATIC_MARK: True}


class Notice(StaticBox):
    """A line in place of a view that has nothing to show yet (an empty workspace)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.children = [w.HTML(h.para(text, muted=True))]

    def static_html(self) -> str:
        return h.para(self.text, muted=True)

    def __repr__(self) -> str:
        return f"<nbtrail: {self.text}>"
