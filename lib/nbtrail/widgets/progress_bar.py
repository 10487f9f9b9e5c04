"""``widgets.progress(description)``: a progress callback for the library's long loops.

The callback takes ``(done, total)``, as the bootstrap's ``progress`` option calls it
(``ev.evaluate_holdout(..., progress=widgets.progress("bootstrap"))``). In a notebook it draws
an ipywidgets bar that, once the loop ends, replaces itself by one line of text (so the saved
notebook shows that line, not a widget without a kernel); elsewhere it draws tqdm's text bar
on stderr.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from nbtrail.widgets import html as h


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ProgressBar:
    """A ``(done, total)`` callback: a bar from the first call, a line of text at the end."""

    def __init__(self, description: str = "", *, notebook: bool | None = None) -> None:
        self.description = description
        self.notebook = _in_kernel() if notebook is None else notebook
        self.total = 0
        self.done = 0
        self.started = 0.0
        self._bar: Any = None
        self._label: Any = None
        self._box: Any = None
        self._handle: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None or done < self.done:
            self._open(total)
        self.done, self.total = done, total
        if self.notebook:
            self._bar.value = done
            self._label.value = f"{done:,} / {total:,}"
        else:
            self._bar.n = done
            self._bar.refresh()
        if done >= total:
            self.close()

    def line(self) -> str:
        """What the bar says once the loop ended."""
        secs = time.monotonic() - self.started
        return f"{self.description or 'done'}: {self.done:,} of {self.total:,} in {secs:.2f} s"

    def close(self) -> None:
        """End the bar: in a notebook it becomes :meth:`line`."""
        if self._bar is None:
            return
        if self.notebook:
            self._handle.update(
                {"text/plain": self.line(), "text/html": h.para(self.line())}, raw=True
            )
            self._box.close()
        else:
            self._bar.close()
        self._bar = None

    def _open(self, total: int) -> None:
        self.started = time.monotonic()
        if not self.notebook:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=self.description, file=sys.stderr, leave=True)
            return
        import ipywidgets as w
        from IPython.display import display

        self._bar = w.IntProgress(value=0, min=0, max=max(total, 1), description=self.description)
        self._label = w.Label(f"0 / {total:,}")
        self._box = w.HBox([self._bar, self._label])
        self._handle = display(self._box, display_id=True)
