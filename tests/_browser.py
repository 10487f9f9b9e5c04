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


def chromium_context(profile: Path):
    """A persistent Chromium context (fresh user-data dir ``profile``), closed on exit; fails
    the test with one line when Debian's chromium is missing."""
    import pytest
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(apt-get install chromium); .ci/run installs it"
        )
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
