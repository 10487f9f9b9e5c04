"""The published site, as a person opens it: headless Chromium (Debian's, driven by the
``playwright`` package, as in tests/test_browser.py) on a copy of the site built after a
real ``nbtrail run``, from ``file://`` and served by ``python -m http.server`` on 127.0.0.1.

One project run is shared by the module (a planted fake secret in the environment, a hostile
parameter string); each test records every request the browser makes and every console error.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from _browser import MIN_DRAWN, chromium_context, wait_drawn
from _project import nbtrail
from conftest import SECRET, SECRET_NAME

pytestmark = pytest.mark.slow

HOSTILE = '<script>alert("nbtrail")</script> & "quoted" <b>bold</b>'


@pytest.fixture(scope="module")
def published(tmp_path_factory, default_run):
    """(copy of the site, single-file report in another folder, project root): the shared
    default run (made with a secret planted in its environment), then export again with a
    hostile parameter and the secret still planted, then publish."""
    base = tmp_path_factory.mktemp("site")
    root, data = default_run.copy(base / "project")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_DATA_DIR", str(data))
        mp.setenv(SECRET_NAME, SECRET)
        proc = nbtrail(root, "run", "-p", f"export.intended_use={HOSTILE}")
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        proc = nbtrail(root, "publish")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        single = base / "mail" / "monitor.html"
        single.parent.mkdir()
        one = nbtrail(root, "publish", "--single", "monitor", "-o", str(single))
        assert one.returncode == 0, one.stdout + one.stderr
    index = root / "workspace" / "site" / "index.html"
    assert f"site: {index}" in proc.stdout, proc.stdout
    copy = base / "elsewhere" / "site"
    shutil.copytree(index.parent, copy)
    other = base / "another-folder"
    other.mkdir()
    shutil.copy(single, other / single.name)
    return copy, other / single.name, root


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A Chromium context with a fresh user-data dir."""
    yield from chromium_context(tmp_path_factory.mktemp("chromium-profile"))


class Watch:
    """Every request and console error of the pages it watches."""

    def __init__(self, context, allowed: tuple[str, ...]) -> None:
        self.allowed = allowed
        self.requests: list[str] = []
        self.errors: list[str] = []
        context.on("request", lambda r: self.requests.append(r.url))

    def page(self, context):
        page = context.new_page()
        page.on(
            "console", lambda m: m.type == "error" and self.errors.append(f"{page.url}: {m.text}")
        )
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        return page

    def outside(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(self.allowed)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(folder: Path):
    """``python -m http.server`` on 127.0.0.1 serving ``folder``; (process, base url)."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/"
    end = time.monotonic() + 30
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(base + "index.html", timeout=2):
                return server, base
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise AssertionError("http.server did not start")


LINKS_JS = """() => Array.from(document.querySelectorAll('a[href]'))
  .map(a => new URL(a.getAttribute('href'), document.baseURI).href)"""


def crawl(context, watch: Watch, base: str, folder: Path, shots: Path | None) -> dict[str, int]:
    """Visit every page reachable from the home page; check targets, reports, pictures."""
    queue, seen, checked = [base + "index.html"], set(), {"pages": 0, "reports": 0, "files": 0}
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        rel = urllib.parse.unquote(url[len(base) :])
        assert (folder / rel).is_file(), f"dead link: {url}"
        if not rel.endswith(".html"):
            if base.startswith("http"):
                with urllib.request.urlopen(url, timeout=10) as resp:
                    assert resp.status == 200, url
            checked["files"] += 1
            continue
        page = watch.page(context)
        try:
            resp = page.goto(url, wait_until="load")
            if base.startswith("http"):
                assert resp is not None and resp.status == 200, url
            checked["pages"] += 1
            frames = [f for f in page.frames if f is not page.main_frame]
            is_report = page.evaluate("() => !!document.querySelector('[id^=root_report]')")
            if frames or is_report:
                targets = frames or [page.main_frame]
                counts = wait_drawn(targets)
                assert all(c > MIN_DRAWN for c in counts), f"reports not drawn on {rel}: {counts}"
                for f in targets:
                    assert len(f.inner_text("body").strip()) > 100, f"no visible text in {f.url}"
                checked["reports"] += len(targets)
            if rel == "index.html":
                assert page.locator("svg.dag g.node").count() >= 5
                if shots:
                    page.screenshot(path=str(shots / "home.png"), full_page=True)
            if rel.startswith("runs/") and rel.endswith("/index.html"):
                assert page.locator("svg.lineage g.node").count() >= 1, rel
                if shots and "/monitor-" in rel:
                    page.screenshot(path=str(shots / "run-monitor.png"))
            if is_report:  # Evidently's own page: plotly's logo links to plotly.com
                continue
            for link in page.evaluate(LINKS_JS):
                target = link.split("#")[0]
                assert target.startswith(base), f"{rel} links outside the site: {link}"
                if target not in seen:
                    queue.append(target)
        finally:
            page.close()
    return checked


@pytest.mark.parametrize("how", ["file", "http"])
def test_site_copy_opens_every_link_and_report(browser, published, how, tmp_path):
    copy, _, _ = published
    server = None
    if how == "file":
        base = copy.as_uri() + "/"
        allowed: tuple[str, ...] = (base, "data:", "about:", "blob:")
    else:
        server, base = serve(copy)
        allowed = (base, "data:", "about:", "blob:")
    try:
        watch = Watch(browser, allowed)
        checked = crawl(browser, watch, base, copy, tmp_path)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
    # home, runs, models, comparisons, 5 run pages, 5 report pages, the model card
    assert checked["pages"] >= 15 and checked["reports"] >= 10, checked
    assert watch.outside() == [], watch.outside()
    assert watch.errors == [], watch.errors
    assert (tmp_path / "home.png").is_file() and (tmp_path / "run-monitor.png").is_file()


def test_runs_table_sorts_and_filters(browser, published):
    copy, _, _ = published
    page = browser.new_page()
    try:
        page.goto((copy / "runs.html").as_uri())
        started = "#runs-table tbody tr:not([hidden]) td:nth-child(4)"
        page.click("#runs-table thead th:nth-child(4)")
        up = page.locator(started).all_inner_texts()
        assert up == sorted(up) and len(up) == 6  # the five stages, export twice
        page.click("#runs-table thead th:nth-child(4)")
        assert page.locator(started).all_inner_texts() == sorted(up, reverse=True)
        page.select_option("#stage-filter", "train")
        assert page.locator("#runs-table tbody tr:not([hidden])").count() == 1
        assert page.locator("#scatter-plot svg circle").count() >= 1
    finally:
        page.close()


def test_hostile_parameter_shows_as_text_and_no_secret_anywhere(browser, published):
    copy, single, root = published
    for f in [*copy.rglob("*"), single]:
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f"the planted secret is in {f}"
    (export,) = [p for p in copy.glob("runs/export-*/index.html") if "&lt;script" in p.read_text()]
    assert "<script>alert(" not in export.read_text()
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(export.as_uri())
        assert HOSTILE in page.inner_text("#parameters + table")
        assert page.locator("#parameters + table b").count() == 0
    finally:
        page.close()
    assert dialogs == []


def test_single_file_report_opens_from_another_folder(browser, published):
    _, single, _ = published
    watch = Watch(browser, (single.as_uri(), "data:", "about:", "blob:"))
    page = watch.page(browser)
    try:
        page.goto(single.as_uri())
        roots = page.locator("[id^=root_report]")
        assert roots.count() == 4  # the monitor stage's drift reports, one per demo batch
        end = time.monotonic() + 30
        counts: list[int] = []
        while time.monotonic() < end:
            counts = page.evaluate(
                "() => Array.from(document.querySelectorAll('[id^=root_report]'))"
                ".map(r => r.querySelectorAll('*').length)"
            )
            if all(c > MIN_DRAWN for c in counts):
                break
            time.sleep(0.5)
        assert all(c > MIN_DRAWN for c in counts), counts
        assert "Dataset Drift" in page.inner_text("body")
    finally:
        page.close()
    assert watch.outside() == [] and watch.errors == [], (watch.outside(), watch.errors)
