"""``widgets.params(stage)``: a form of the stage's parameters, checked as ``nbtrail run -p``
checks them, and a "run" button that runs the stage through the runner (recorded, and reused
when nothing changed, like any run) with a progress bar of its cells.

The run happens in a background thread so the notebook stays responsive; the bar follows the
runner's cell events (:mod:`nbtrail.pipeline.progress`). The logic is
:mod:`~nbtrail.widgets.param_form`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import ipywidgets as w

from nbtrail.core.errors import NbtrailError
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.plan import RunPlan
from nbtrail.pipeline.progress import Progress
from nbtrail.widgets import html as h
from nbtrail.widgets import param_form
from nbtrail.widgets.static import StaticBox

TICK = 1.0  # seconds between refreshes of the elapsed time while a stage runs
EXTRA_HINT = "more overrides, one per line: NAME=VALUE or NAME.KEY=VALUE (a mapping's entry)"


def _input(f: param_form.Field) -> w.Widget:
    box = w.Layout(width="320px", flex="0 0 320px")
    if f.type == "bool" and isinstance(f.value, bool):
        return w.Checkbox(value=f.value, indent=False, layout=box)
    if f.choices:
        return w.Dropdown(
            options=list(dict.fromkeys([*f.choices, f.text])), value=f.text, layout=box
        )
    return w.Text(value=f.text, placeholder=f.type, layout=box)


def _text(widget: w.Widget) -> str:
    value = widget.value
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class ParamsForm(StaticBox):
    """The parameters form of one stage (see :func:`nbtrail.widgets.params`)."""

    def __init__(self, ws: Workspace, stage: str) -> None:
        super().__init__()
        self.ws = ws
        self.stage = stage
        self.fields = param_form.fields(ws, stage)
        self.inputs = {f.name: _input(f) for f in self.fields}
        self.extra = w.Textarea(placeholder=EXTRA_HINT, layout=w.Layout(width="70%", height="60px"))
        self.check_button = w.Button(description="check", icon="check")
        self.run_button = w.Button(description=f"run {stage}", button_style="primary", icon="play")
        self.message = w.HTML()
        self.bar = w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="50%"))
        self.position = w.HTML()
        self.summary = w.HTML()
        self.thread: threading.Thread | None = None
        self.results: list[Any] = []
        self._state: Progress | None = None
        self._done = threading.Event()
        self.check_button.on_click(lambda _b: self.check())
        self.run_button.on_click(lambda _b: self.run())
        rows = [
            w.HBox([
                w.HTML(f"<code>{h.esc(f.name)}</code> <small>{h.esc(f.type)}</small>",
                       layout=w.Layout(width="200px", flex="0 0 200px")),
                self.inputs[f.name],
                w.HTML(f"<small>{h.esc(f.source)}{' · ' + h.esc(f.comment) if f.comment else ''}</small>"),
            ])
            for f in self.fields
        ]  # fmt: skip
        self.add_class("nbtrail-params")
        self.bar.layout.visibility = "hidden"
        self.children = [
            w.HTML(h.heading(f"parameters of stage {stage}")),
            *rows,
            self.extra,
            w.HBox([self.check_button, self.run_button]),
            self.message,
            w.HBox([self.bar, self.position]),
            self.summary,
        ]

    def overrides(self) -> list[str]:
        """The ``-p`` texts the form holds now (changed fields, then the extra lines)."""
        texts = {name: _text(widget) for name, widget in self.inputs.items()}
        return param_form.overrides(self.stage, self.fields, texts, self.extra.value)

    def check(self) -> RunPlan | None:
        """Check the form as ``nbtrail run --stage STAGE -p ...`` would; the refusal (the CLI's
        message) or what will change is shown."""
        given = self.overrides()
        try:
            rp = param_form.check(self.ws, self.stage, given)
        except NbtrailError as exc:
            self.message.value = h.error(str(exc))
            return None
        changed = ", ".join(g.partition(".")[2] for g in given) or "nothing: the current values"
        self.message.value = h.para(f"ok: stage {self.stage} would run with {changed}")
        return rp

    def run(self, *, wait: bool = False) -> threading.Thread | None:
        """Check, then run the stage in a background thread (``wait``: until it ends)."""
        if self.thread is not None and self.thread.is_alive():
            self.message.value = h.para("a run of this form is still going", muted=True)
            return self.thread
        rp = self.check()
        if rp is None:
            return None
        self.run_button.disabled = True
        self.summary.value = ""
        self.bar.value, self.bar.layout.visibility = 0, "visible"
        self._done.clear()
        self.thread = threading.Thread(target=self._run, args=(rp,), name=f"nbtrail-{self.stage}")
        self.thread.start()
        threading.Thread(target=self._tick, name="nbtrail-tick", daemon=True).start()
        if wait:
            self.thread.join()
        return self.thread

    def static_html(self) -> str:
        rows = [[f.name, f.type, _text(self.inputs[f.name]), f.source] for f in self.fields]
        table = h.table(["parameter", "type", "value", "from"], rows)
        return (
            h.heading(f"parameters of stage {self.stage}")
            + table
            + self.message.value
            + self.summary.value
        )

    def __repr__(self) -> str:
        return f"<nbtrail parameters of stage {self.stage}: {len(self.fields)} fields>"

    # -- the run ------------------------------------------------------------------------------
    def _run(self, rp: RunPlan) -> None:
        from nbtrail.pipeline.runner import PipelineFailed, Runner
        from nbtrail.pipeline.summary import format_summary

        runner = Runner(self.ws, on_event=self._event, on_progress=self._progress)
        try:
            self.results = runner.run(rp)
            self.summary.value = h.pre(format_summary(self.results, self.ws))
        except PipelineFailed as failed:
            self.results = failed.results
            text = format_summary(failed.results, self.ws)
            self.summary.value = h.pre(text) + h.error(str(failed.error))
        except NbtrailError as exc:  # e.g. an upstream stage that never ran
            self.summary.value = h.error(str(exc))
        finally:
            self._done.set()
            self.run_button.disabled = False
            self.bar.layout.visibility = "hidden"

    def _event(self, text: str) -> None:
        self.message.value = h.para(text)

    def _progress(self, p: Progress) -> None:
        self._state = p
        self.bar.max = max(p.cells, 1)
        self.bar.value = p.cell
        self.position.value = h.esc(p.line())

    def _tick(self) -> None:
        while not self._done.wait(TICK):
            p = self._state
            if p is not None and not p.finished:
                self.position.value = h.esc(p.line(time.monotonic()))
