"""`nbtrail publish`: the pages, escaping, incremental writes and bad input, on a workspace
built from the record factory (tests/test_browser_site.py opens a real pipeline's site)."""

from __future__ import annotations

import base64
import gzip
import json
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from _site import BUNDLE, make_workspace, report_page, write_notebook

from nbtrail import cli
from nbtrail.core.errors import NotFound, ParameterError
from nbtrail.site import check_out_dir, publish, publish_single
from nbtrail.site.escaping import clean_html, href, json_script
from nbtrail.site.report_pages import packed, parse_report, site_page
from nbtrail.site.svg import Node, draw, layers_of
from nbtrail.site.writer import STATE_FILE, SiteWriter

HOSTILE = "<script>alert('pwned')</script>\"quoted\" & 'single'"


def mtimes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file()
    }


class Links(HTMLParser):
    """Every href and src of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.scripts: list[dict[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts.append(a)
        for name in ("href", "src"):
            if a.get(name):
                self.targets.append(a[name])


def local_targets(page: Path) -> list[Path]:
    parser = Links()
    parser.feed(page.read_text())
    out = []
    for t in parser.targets:
        if t.startswith(("#", "data:", "http://www.w3.org")):
            continue
        out.append((page.parent / t.split("#")[0]).resolve())
    return out


@pytest.fixture
def site(ws):
    runs = make_workspace(ws, hostile=HOSTILE)
    return ws, runs


def test_publish_writes_every_page_and_no_link_is_dead(site):
    ws, runs = site
    rep = publish(ws)
    out = ws.site_dir
    assert rep.index == out / "index.html" and not rep.nothing_new
    assert rep.runs == 8 and len(rep.rendered_runs) == 8
    for name in ("index.html", "runs.html", "models.html", "compare/index.html"):
        assert (out / name).is_file(), name
    ids = [r["run_id"] for chain in (runs["first"], runs["second"]) for r in chain.values()]
    for rid in ids:
        assert (out / "runs" / rid / "index.html").is_file(), rid
    for stage in ("data", "train", "evaluate", "export"):  # consecutive runs compared
        a, b = runs["first"][stage]["run_id"], runs["second"][stage]["run_id"]
        assert (out / "compare" / f"{a}__{b}.html").is_file()
    ev = runs["second"]["evaluate"]["run_id"]
    assert (out / "runs" / ev / "outputs" / "quality.html").is_file()
    assert (out / "assets" / BUNDLE).is_file() and (out / "assets" / "site.js").is_file()
    for page in out.rglob("*.html"):
        for target in local_targets(page):
            assert target.is_file(), f"{page.relative_to(out)} links to missing {target}"
    home = (out / "index.html").read_text()
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="dag"' in home
    for stage in ("data", "train", "evaluate", "export"):
        assert f'data-node="{stage}"' in home
    run_page = (out / "runs" / ev / "index.html").read_text()
    assert 'class="lineage"' in run_page and "hello from the cell" in run_page
    assert '<iframe class="report" src="outputs/quality.html"' in run_page
    assert "secret_looking_code" not in run_page  # code hidden by default
    assert "http://" not in run_page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in run_page


def test_with_code_shows_the_code_and_a_toggle(site):
    ws, runs = site
    publish(ws, with_code=True)
    page = (ws.site_dir / "runs" / runs["first"]["train"]["run_id"] / "index.html").read_text()
    assert "secret_looking_code" in page and 'id="toggle-code"' in page


def test_report_page_loads_the_sites_bundle_and_its_data_packed(site):
    ws, runs = site
    publish(ws)
    ev = runs["first"]["evaluate"]["run_id"]
    page = (ws.site_dir / "runs" / ev / "outputs" / "quality.html").read_text()
    assert f'<script src="../../../assets/{BUNDLE}"></script>' in page
    assert "url(../../../assets/material-ui-icons.woff2)" in page
    assert "var report_0123abcd" not in page  # the data is packed ...
    blob = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', page).group(1)
    js = gzip.decompress(base64.b64decode(blob)).decode()
    assert js.startswith("var report_0123abcd = ") and f"quality {ev}" in js  # ... and intact
    assert "window.drawDashboard(report_0123abcd" in page


def test_republish_with_nothing_new_rewrites_nothing(site):
    ws, _ = site
    publish(ws)
    before = mtimes(ws.site_dir)
    time.sleep(0.01)
    rep = publish(ws)  # its time is in BENCHMARKS.md (a timed assert fails on a busy machine)
    assert rep.nothing_new and rep.written == []
    assert mtimes(ws.site_dir) == before
    # through the CLI too, in this process
    assert cli.main(["-C", str(ws.root), "publish"]) == 0
    assert mtimes(ws.site_dir) == before


def test_a_new_run_renders_only_its_pages_and_the_index_pages(site):
    ws, runs = site
    publish(ws)
    before = mtimes(ws.site_dir)
    f = runs["factory"]
    extra = f.record("train", params={"C": 3.0, "seed": 0}, metrics={"train_auc": 0.9})
    write_notebook(ws.root / extra["notebook"]["executed"])
    f.write(extra)
    rep = publish(ws)
    assert rep.rendered_runs == [extra["run_id"]]
    after = mtimes(ws.site_dir)
    old_run_pages = [k for k in before if k.startswith("runs/")]
    assert old_run_pages and all(after[k] == before[k] for k in old_run_pages)
    assert after["runs.html"] != before["runs.html"]
    assert f"runs/{extra['run_id']}/index.html" in after
    prev = runs["second"]["train"]["run_id"]
    assert f"compare/{prev}__{extra['run_id']}.html" in after


def test_a_removed_run_loses_its_pages_and_other_files_are_left_alone(site):
    import shutil

    ws, runs = site
    publish(ws)
    mine = ws.site_dir / "notes.txt"
    mine.write_text("not the site's")
    gone = runs["second"]["export"]["run_id"]
    shutil.rmtree(ws.run_dir(gone))
    rep = publish(ws)
    assert f"runs/{gone}/index.html" in rep.removed
    assert not (ws.site_dir / "runs" / gone).exists()
    assert mine.read_text() == "not the site's"


def test_hostile_strings_show_as_text_everywhere(site):
    ws, runs = site
    publish(ws)
    escaped = "&lt;script&gt;alert("
    ev = runs["second"]["evaluate"]["run_id"]
    run_page = (ws.site_dir / "runs" / ev / "index.html").read_text()
    assert escaped in run_page
    for page in ws.site_dir.rglob("*.html"):
        text = page.read_text()
        assert "<script>alert(" not in text, page
        parser = Links()
        parser.feed(text)
        for s in parser.scripts:  # the site's own scripts only
            assert s.get("src") is None or s["src"].endswith(("site.js", BUNDLE)), (page, s)
    compare = next((ws.site_dir / "compare").glob(f"*__{ev}.html")).read_text()
    assert "<script>alert(" not in compare


def test_escaping_helpers():
    assert "</script" not in json_script({"k": "</script><b>"})
    assert json.loads(str(json_script({"k": "</script>&"}))) == {"k": "</script>&"}
    assert href("runs", "a b/c", "index.html") == "runs/a%20b%2Fc/index.html"
    cleaned = clean_html(
        '<table onclick="x()"><tr><th>col</th><td>1</td></tr></table>'
        "<script>alert(1)</script><style>p{}</style><iframe src=x></iframe>"
        '<img src="http://example.com/x.png"><a href="https://example.com">out</a>'
        '<b onmouseover="x()">bold</b><custom>tag</custom>'
    )
    assert "<table>" in cleaned and "<th>col</th>" in cleaned and "<b>bold</b>" in cleaned
    for bad in ("onclick", "<script", "alert", "<style", "<iframe", "example.com", "<custom>"):
        assert bad not in cleaned, bad
    assert "&lt;custom&gt;" in cleaned


def test_a_corrupt_or_missing_notebook_is_said_on_its_page_and_the_rest_builds(site):
    ws, runs = site
    bad = runs["second"]["train"]
    (ws.root / bad["notebook"]["executed"]).write_text("{ this is not a notebook")
    missing = runs["second"]["data"]
    (ws.root / missing["notebook"]["executed"]).unlink()
    rep = publish(ws)
    assert rep.runs == 8
    page = (ws.site_dir / "runs" / bad["run_id"] / "index.html").read_text()
    assert "is unreadable" in page and "Parameters" in page
    page = (ws.site_dir / "runs" / missing["run_id"] / "index.html").read_text()
    assert "is missing" in page
    assert (ws.site_dir / "index.html").is_file()


def test_no_runs_is_one_line_and_exit_9(ws, capsys):
    with pytest.raises(NotFound):
        publish(ws)
    assert cli.main(["-C", str(ws.root), "publish"]) == 9
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no runs" in err[0], err
    assert not (ws.site_dir / "index.html").exists()


def test_out_inside_a_run_folder_or_the_data_store_is_refused(site, capsys):
    ws, runs = site
    rid = runs["first"]["train"]["run_id"]
    for bad in (ws.run_dir(rid) / "site", ws.data_dir / "site", ws.workspace_dir, ws.root):
        with pytest.raises(ParameterError):
            check_out_dir(ws, bad)
    assert cli.main(["-C", str(ws.root), "publish", "--out", str(ws.runs_dir / rid)]) == 3
    assert "overlaps the run folders" in capsys.readouterr().err
    assert check_out_dir(ws, ws.root / "public") == (ws.root / "public").resolve()


def test_stage_filter_and_named_runs(site):
    ws, runs = site
    a, b = runs["first"]["train"]["run_id"], runs["second"]["evaluate"]["run_id"]
    rep = publish(ws, ws.root / "public", stages=("train",), runs=(b,))
    out = ws.root / "public"
    published = {p.parent.name for p in (out / "runs").glob("*/index.html")}
    assert published == {a, runs["second"]["train"]["run_id"], b}
    assert rep.runs == 3
    assert (out / "compare" / f"{a}__{runs['second']['train']['run_id']}.html").is_file()
    rep = publish(ws, out, runs=(a, b))
    assert (out / "compare" / f"{a}__{b}.html").is_file()


def test_single_file_holds_everything(site, tmp_path):
    ws, runs = site
    ev = runs["second"]["evaluate"]["run_id"]
    target = tmp_path / "mail" / "evaluate.html"
    target.parent.mkdir()
    one = publish_single(ws, ev, target)
    text = target.read_text()
    assert one.reports == 1 and one.run_id == ev
    assert text.count("window.drawDashboard = function") == 1  # the bundle, once
    assert 'id="root_report_0123abcd"' in text and "&lt;script&gt;alert(" in text
    parser = Links()
    parser.feed(text)
    assert all(s.get("src") is None for s in parser.scripts)
    assert [t for t in parser.targets if not t.startswith(("#", "data:"))] == []
    assert cli.main(["-C", str(ws.root), "publish", "--single", ev]) == 3  # -o is needed


def test_parse_report_reads_the_page_nbtrail_saves(tmp_path):
    """The page shape report_pages expects is the one practices/reports.py writes."""
    import pandas as pd
    from evidently import Dataset, Report
    from evidently.presets import DataSummaryPreset

    from nbtrail.core.workspace import Workspace
    from nbtrail.practices import reports

    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "name</script>": ["a", "b", "a", "b"]})
    snap = Report([DataSummaryPreset()]).run(Dataset.from_pandas(df), None)
    path = reports.save_report(
        snap, tmp_path / "workspace/runs/r/outputs/s.html", Workspace(tmp_path)
    )
    page = path.read_text()
    assert page.count("</script>") == page.count("<script")  # a hostile column cannot end it
    parts = parse_report(page)
    assert parts is not None and parts.bundle_name == reports.bundle_name()
    out = site_page(parts, "../../../assets")
    assert out.count("<script src=") == 1 and parts.data_js not in out
    assert gzip.decompress(base64.b64decode(packed(parts.data_js))).decode() == parts.data_js
    assert parse_report(report_page("t")) is not None and parse_report("<html></html>") is None


def test_svg_layers_escape_and_link():
    assert layers_of(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("d", "c")]) == {
        "a": 0, "b": 1, "c": 2, "d": 0,
    }  # fmt: skip
    svg = str(
        draw(
            [Node("a", ["<b>one</b>"], href="runs/a.html"), Node("b", ["two & three"])],
            [("a", "b")],
            label="g",
            css_class="dag",
            marker_id="m",
        )
    )
    assert "&lt;b&gt;one&lt;/b&gt;" in svg and "two &amp; three" in svg
    assert '<a href="runs/a.html">' in svg and svg.count('class="edge"') == 1


def test_writer_writes_only_changed_bytes_and_prunes_its_own_files(tmp_path):
    w = SiteWriter(tmp_path)
    w.write("a.html", "one")
    w.write("sub/b.html", "two")
    stamp = (tmp_path / "a.html").stat().st_mtime_ns
    w2 = SiteWriter(tmp_path)
    time.sleep(0.01)
    w2.write("a.html", "one")
    assert w2.written == [] and (tmp_path / "a.html").stat().st_mtime_ns == stamp
    w2.write("a.html", "changed")
    assert w2.written == ["a.html"]
    (tmp_path / "mine.txt").write_text("x")
    assert w2.prune(w.files) == ["sub/b.html"]
    assert not (tmp_path / "sub").exists() and (tmp_path / "mine.txt").is_file()
    w2.save_state({"key": "k"})
    assert json.loads((tmp_path / STATE_FILE).read_text())["files"].keys() == {"a.html"}
