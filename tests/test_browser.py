"""Evidently reports saved by nbtrail render for a person: checked in a real headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``) is driven by the ``playwright`` package; no
browser is downloaded. "Rendered" means Evidently's script drew into the report's root element
(hundreds of elements); a page whose script did not load leaves the root empty.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _browser import MIN_DRAWN, chromium_context, wait_drawn
from _project import make_project, nbtrail

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context with a fresh user-data dir."""
    yield from chromium_context(tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    """A copy of the project after ``nbtrail run``: (root, monitor run folder, jupyter data dir).

    The runner signs the notebooks it executes in the Jupyter data dir, here a private one.
    """
    root = make_project(tmp_path_factory.mktemp("browser") / "project")
    data_dir = tmp_path_factory.mktemp("jupyter-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(data_dir))
        proc = nbtrail(root, "run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runs = sorted((root / "workspace" / "runs").glob("monitor-*"))
    assert len(runs) == 1, runs
    return root, runs[0], data_dir


def monitor_reports(run: Path) -> list[Path]:
    pages = sorted((run / "outputs").glob("*.html"))
    assert len(pages) == 3, pages  # one drift page per demo batch: clean, concept, covariate
    return pages


def test_saved_report_page_renders_from_file(browser, tmp_path):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from nbtrail.core.workspace import Workspace
    from nbtrail.practices import reports

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"tumour_size": rng.normal(40, 5, 300), "site": rng.choice(["a", "b"], 300)})
    cur = pd.DataFrame({"tumour_size": rng.normal(45, 5, 200), "site": rng.choice(["a", "b"], 200)})
    definition = DataDefinition(numerical_columns=["tumour_size"], categorical_columns=["site"])
    snap = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur, data_definition=definition),
        Dataset.from_pandas(ref, data_definition=definition),
    )
    page_path = reports.save_report(
        snap, tmp_path / "workspace" / "reports" / "drift.html", Workspace(tmp_path)
    )

    page = browser.new_page()
    try:
        page.goto(page_path.as_uri())
        (count,) = wait_drawn([page.main_frame])
        page.screenshot(path=str(tmp_path / "saved_report.png"), full_page=True)
        text = page.inner_text("body")
    finally:
        page.close()
    assert count > MIN_DRAWN, f"the saved page did not render from file:// ({count} elements)"
    # the report's own data is on screen, not only Evidently's frame
    assert "tumour_size" in text and "Drifted" in text, text[:500]


def test_exported_monitor_notebook_renders_every_report(browser, monitored, tmp_path):
    _, run, _ = monitored
    pages = monitor_reports(run)
    nb = run / "05_monitor.ipynb"
    # written next to the notebook, as a user exports it: the iframes' src are relative to it
    html_path = run / "05_monitor.html"
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(nb)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert html_path.is_file()

    page = browser.new_page()
    try:
        page.goto(html_path.as_uri())
        frames = [f for f in page.frames if f.url.startswith("file:") and f is not page.main_frame]
        counts = wait_drawn(frames)
        page.screenshot(path=str(tmp_path / "nbconvert.png"), full_page=True)
    finally:
        page.close()
    shown = sorted(Path(f.url.removeprefix("file://")).name for f in frames)
    assert shown == [p.name for p in pages], shown
    assert all(c > MIN_DRAWN for c in counts), f"reports not rendered in exported HTML: {counts}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url: str, server: subprocess.Popen, timeout_s: float = 90) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if server.poll() is not None:
            raise AssertionError(f"jupyter lab exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"jupyter lab did not answer {url} within {timeout_s} s")


def test_jupyterlab_renders_reports_of_the_executed_notebook(browser, monitored, tmp_path):
    root, run, data_dir = monitored
    expected = len(monitor_reports(run))
    nb = run / "05_monitor.ipynb"
    port, token = free_port(), "browser-test-token"
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(data_dir),  # where the runner signed the notebook
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
    }
    cmd = [
        sys.executable, "-m", "jupyter", "lab", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", "--LabApp.news_url=None",
    ]  # fmt: skip
    news = tmp_path / "jupyter-config/lab/user-settings/@jupyterlab/apputils-extension"
    news.mkdir(parents=True)  # no "get notified about Jupyter news?" pop-up over the notebook
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", server)
        page = browser.new_page()
        try:
            page.goto(f"{base}/lab/tree/{nb.relative_to(root).as_posix()}?token={token}&reset")
            iframes = page.locator(".jp-OutputArea-output iframe")
            end = time.monotonic() + 60
            while iframes.count() < expected and time.monotonic() < end:
                page.mouse.move(700, 500)  # Lab renders the visible cells: scroll through
                page.mouse.wheel(0, 1500)
                page.wait_for_timeout(500)
            assert iframes.count() == expected, (
                f"{iframes.count()} report iframes in JupyterLab, expected {expected}; "
                f"server log: {(tmp_path / 'lab.log').read_text()[-2000:]}"
            )
            counts = []
            for i in range(expected):
                handle = iframes.nth(i)
                handle.scroll_into_view_if_needed()
                counts += wait_drawn([handle.element_handle().content_frame()])
                if i == 0:
                    page.screenshot(path=str(tmp_path / "lab.png"))
        finally:
            page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert all(c > MIN_DRAWN for c in counts), f"reports not rendered in JupyterLab: {counts}"
