"""Evidently reports saved by nbtrail render for a person: checked in a real headless Chromium.

Debian's ``chromium`` (``/usr/bin/chromium``) is driven by the ``playwright`` package; no
browser is downloaded. "Rendered" means Evidently's script drew into the report's root element
(hundreds of elements); a page whose script did not load leaves the root empty.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _browser import MIN_DRAWN, chromium_context, wait_drawn
from _project import REPO, nbtrail

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context with a fresh user-data dir."""
    yield from chromium_context(tmp_path_factory.mktemp("chromium-profile"))


@pytest.fixture(scope="module")
def monitored(tmp_path_factory, default_run):
    """A copy of the project after ``nbtrail run``: (root, monitor run folder, jupyter data dir).

    The runner signs the notebooks it executes in the Jupyter data dir, here a private one.
    """
    root, data_dir = default_run.copy(tmp_path_factory.mktemp("browser") / "project")
    runs = sorted((root / "workspace" / "runs").glob("monitor-*"))
    assert len(runs) == 1, runs
    return root, runs[0], data_dir


def monitor_reports(run: Path) -> list[Path]:
    pages = sorted((run / "outputs").glob("*.html"))
    assert len(pages) == 4, pages  # a drift page per demo batch (4, one unlabelled)
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


@dataclass(frozen=True)
class Lab:
    """A JupyterLab the tests share: its base URL, token, the URL `make lab` printed, its log."""

    base: str
    token: str
    printed: str
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base}/lab/tree/{path}?token={self.token}&reset"

    def tail(self) -> str:
        return self.log.read_text()[-2000:]


@pytest.fixture(scope="module")
def lab(monitored, tmp_path_factory):
    """JupyterLab on the monitored project, started by ``make lab`` as a user starts it (the
    Makefile of this repository, run in the project with this interpreter's environment)."""
    root, _, data_dir = monitored
    cfg = tmp_path_factory.mktemp("jupyter-config")
    news = cfg / "lab/user-settings/@jupyterlab/apputils-extension"
    news.mkdir(parents=True)  # no "get notified about Jupyter news?" pop-up over the notebook
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = {
        **os.environ,
        "JUPYTER_DATA_DIR": str(data_dir),  # where the runner signed the notebooks
        "JUPYTER_CONFIG_DIR": str(cfg),
        "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("jupyter-runtime")),
    }
    env.pop("NBTRAIL_ROOT", None)
    port = free_port()
    log_path = tmp_path_factory.mktemp("lab") / "lab.log"
    cmd = [
        "make", "-s", "-f", str(REPO / "Makefile"), "-C", str(root), "lab",
        f"VENV={sys.prefix}", "STAMP=", f"LAB_PORT={port}", "LAB_ARGS=--LabApp.news_url=None",
    ]  # fmt: skip
    log = log_path.open("w")
    server = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
    )
    try:
        printed = _printed_url(log_path, server)
        token = printed.partition("token=")[2]
        base = f"http://127.0.0.1:{port}"
        wait_for_server(f"{base}/api/status?token={token}", server)
        yield Lab(base, token, printed, log_path)
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # make and the jupyter it started
        server.wait(timeout=30)
        log.close()


def _printed_url(log: Path, server: subprocess.Popen, timeout_s: float = 30) -> str:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and server.poll() is None:
        for line in log.read_text().splitlines():
            if line.startswith("nbtrail: JupyterLab at "):
                return line.removeprefix("nbtrail: JupyterLab at ")
        time.sleep(0.2)
    raise AssertionError(f"make lab printed no URL: {log.read_text()[-2000:]}")


def test_make_lab_prints_the_url_of_the_home_notebook(lab):
    assert lab.printed.startswith(lab.base + "/lab/tree/notebooks/00_workspace.ipynb?token=")
    assert len(lab.token) == 32
    with urllib.request.urlopen(lab.printed, timeout=10) as resp:
        assert resp.status == 200


def test_jupyterlab_renders_reports_of_the_executed_notebook(browser, monitored, lab, tmp_path):
    root, run, _ = monitored
    expected = len(monitor_reports(run))
    nb = run / "05_monitor.ipynb"
    page = browser.new_page()
    try:
        page.goto(lab.url(nb.relative_to(root).as_posix()))
        iframes = page.locator(".jp-OutputArea-output iframe")
        end = time.monotonic() + 60
        while iframes.count() < expected and time.monotonic() < end:
            page.mouse.move(700, 500)  # Lab renders the visible cells: scroll through
            page.mouse.wheel(0, 1500)
            page.wait_for_timeout(500)
        assert iframes.count() == expected, (
            f"{iframes.count()} report iframes in JupyterLab, expected {expected}; "
            f"server log: {lab.tail()}"
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
    assert all(c > MIN_DRAWN for c in counts), f"reports not rendered in JupyterLab: {counts}"


# The home notebook's widgets, live in JupyterLab ---------------------------------------------


def reveal(page, selector: str, *, count: int = 1, timeout_s: float = 90):
    """The locator of ``selector`` once ``count`` of them exist, scrolling the notebook down
    (Lab draws the cells in view only)."""
    loc = page.locator(selector)
    end = time.monotonic() + timeout_s
    while loc.count() < count and time.monotonic() < end:
        page.mouse.move(700, 500)
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(400)
    assert loc.count() >= count, f"{selector}: {loc.count()} found, {count} expected"
    loc.first.evaluate("e => e.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    return loc


def row_ids(page) -> list[str]:
    cells = page.locator(".nbtrail-runs table.nbtrail-table tbody tr td:first-child")
    return cells.all_inner_texts()


def until(predicate, timeout_s: float = 30, what: str = "") -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_home_notebook_widgets_live_in_jupyterlab(browser, monitored, lab, tmp_path):
    root, _, _ = monitored
    home = "notebooks/00_workspace.ipynb"
    cli = nbtrail(root, "run", "--stage", "train", "-p", "train.max_dept=4")
    assert cli.returncode == 3, cli.stderr
    refused = cli.stderr.strip().splitlines()[-1].removeprefix("nbtrail: error: ")
    page = browser.new_page()
    try:
        page.goto(lab.url(home))
        page.locator(".jp-Notebook").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)  # the kernel starts
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

        # the run browser renders rows: the five runs of `nbtrail run`, newest first
        reveal(page, ".nbtrail-runs table.nbtrail-table tbody tr", count=5)
        before = row_ids(page)
        assert len(before) == 5 and before[0].startswith(("monitor-", "export-")), before
        page.screenshot(path=str(tmp_path / "runs.png"))
        sort = page.locator(".nbtrail-runs .widget-dropdown", has_text="sort by").locator("select")
        sort.select_option(label="roc_auc")
        until(lambda: row_ids(page) != before, what="the table to re-sort")
        after = row_ids(page)
        assert after[0].startswith("evaluate-") and sorted(after) == sorted(before), after

        # two runs selected: their diff, metrics with deltas
        pick = page.locator(".nbtrail-runs .widget-select-multiple select")
        labels = pick.locator("option").all_inner_texts()
        pick.select_option(label=labels[:2])
        diff = page.locator(".nbtrail-runs", has_text="b - a")
        diff.first.wait_for(timeout=30_000)
        text = page.locator(".nbtrail-runs").first.text_content() or ""
        older = min(after[:2], key=lambda run_id: run_id.split("-")[1])  # by its start time
        assert f"a: {older}" in text and "identical:" in text
        page.screenshot(path=str(tmp_path / "diff.png"))

        # the A/B outcome: its table and its plot
        reveal(page, ".nbtrail-ab table.nbtrail-table tbody tr")
        ab = page.locator(".nbtrail-ab").first
        assert "roc_auc" in (page.locator(".nbtrail-ab").first.text_content() or "")
        plot = page.locator(".nbtrail-ab img").first
        until(lambda: plot.evaluate("i => i.naturalWidth") > 100, what="the effect plot")
        ab.screenshot(path=str(tmp_path / "ab.png"))

        # monitoring: the history, and a click on a batch shows its report
        reveal(page, ".nbtrail-monitoring img")
        batch = page.locator(".nbtrail-monitoring button", has_text="covariate_drift").first
        batch.scroll_into_view_if_needed()
        batch.click()
        report = reveal(page, ".nbtrail-monitoring iframe").first
        shown = page.locator(".nbtrail-monitoring").first.text_content() or ""
        assert "batch covariate_drift" in shown
        report.scroll_into_view_if_needed()
        (drawn_count,) = wait_drawn([report.element_handle().content_frame()])
        page.screenshot(path=str(tmp_path / "monitoring.png"))
        assert drawn_count > MIN_DRAWN, f"the batch's report did not render: {drawn_count}"

        # params("train") refuses an unknown parameter with the CLI's message
        extra = reveal(page, ".nbtrail-params textarea").first
        extra.fill("max_dept=4")
        page.locator(".nbtrail-params button", has_text="check").first.click()
        error = page.locator(".nbtrail-params .nbtrail-error").first
        error.wait_for(timeout=30_000)
        assert error.text_content() == refused
        page.screenshot(path=str(tmp_path / "params.png"))

        # saved from Lab (no widget state, Lab's default): nbconvert shows the static tables
        page.keyboard.press("Control+s")
        saved = root / home
        until(lambda: "nbtrail-static" in saved.read_text(), what="the notebook to be saved")
    finally:
        page.close()
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(saved)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    exported = browser.new_page()
    try:
        exported.goto(saved.with_suffix(".html").as_uri())
        frames = [
            f for f in exported.frames if f.url.startswith("file:") and f is not exported.main_frame
        ]
        reports = sorted(Path(f.url.removeprefix("file://")).name for f in frames)
        drawn_counts = wait_drawn(frames)
        exported.screenshot(path=str(tmp_path / "exported.png"), full_page=True)
        body = exported.inner_text("body")
        tables = exported.locator(".nbtrail-static table.nbtrail-table").count()
        pictures = exported.locator(".nbtrail-static img").count()
    finally:
        exported.close()
    assert "Error displaying widget" not in body
    assert tables >= 4 and pictures >= 3, (tables, pictures)
    assert all(run_id in body for run_id in before)
    # the A/B view's Evidently comparison renders there too (the static rendering is the state
    # a view was displayed in: the batch clicked later is not part of it)
    assert reports == ["evidently_ab.html"], reports
    assert all(c > MIN_DRAWN for c in drawn_counts), drawn_counts
