"""Driving Debian's headless Chromium (``/usr/bin/chromium``) through the ``playwright``
package, for the browser tests: its flags, and whether an Evidently report has drawn.

"Rendered" means Evidently's script drew into the report's root element (hundreds of
elements); a page whose script did not load leaves the root empty.
"""

from __future__ import annotations

import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
MIN_DRAWN = 50  # elements in Evidently's root once it rendered (a drift report draws ~380)
DRAWN_JS = (
    "() => { const r = document.querySelector('[id^=root_]');"
    " return r ? r.querySelectorAll('*').length : -1; }"
)


def drawn(frame) -> int:
    """Elements Evidently drew into its root in ``frame``; -1 when there is no root."""
    try:
        return frame.evaluate(DRAWN_JS)
    except Exception:  # a frame still navigating or detached
        return -2


def wait_drawn(frames, timeout_s: float = 30) -> list[int]:
    """Poll until every frame's report rendered (or the time is up); the last counts."""
    end = time.monotonic() + timeout_s
    counts = [drawn(f) for f in frames]
    while time.monotonic() < end and not all(c > MIN_DRAWN for c in counts):
        time.sleep(0.5)
        counts = [drawn(f) for f in frames]
    return counts
