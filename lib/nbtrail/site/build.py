"""``nbtrail publish``: the static site, built incrementally.

The site (default ``workspace/site/``) needs no server and no internet: every page, picture,
script and the one copy of Evidently's bundle are files under it, linked by relative paths,
so the folder can be copied anywhere and opened from disk or any static host.

Incremental: when the site key (:mod:`~nbtrail.site.freshness`) is the one the last publish
recorded and the site's files are as it left them, nothing is read or written. Otherwise
each run whose run key is unchanged keeps its files untouched; the others are rendered;
the index pages are rendered again and written only where their bytes changed.

A publish that fails part-way (a full disk, say: :class:`~nbtrail.core.errors.DiskFull`,
exit 14) removes the files it had created and the state file, leaving no temp file: a first
publish leaves no ``index.html``; a republish leaves the earlier pages, each whole (every file
is replaced atomically), and the next publish checks every file again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ParameterError, disk_full_as_error
from nbtrail.core.workspace import Workspace
from nbtrail.site.assets import write_evidently, write_static
from nbtrail.site.content import Selection, gather
from nbtrail.site.freshness import run_key, site_key
from nbtrail.site.pages.common import Site
from nbtrail.site.pages.compare import compare_index, compare_name, compare_page, pairs
from nbtrail.site.pages.home import home_page
from nbtrail.site.pages.models import models_page
from nbtrail.site.pages.run import lineage_runs, write_run
from nbtrail.site.pages.runs import runs_page
from nbtrail.site.writer import SiteWriter, intact, load_state


@dataclass
class PublishReport:
    """What a publish did: where the site is, which files it wrote, kept and removed."""

    out: Path
    nothing_new: bool
    seconds: float
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    rendered_runs: list[str] = field(default_factory=list)
    runs: int = 0
    missing_bundles: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def size(self) -> int:
        """Bytes of every file in the site (its state file included)."""
        return sum(p.stat().st_size for p in self.out.rglob("*") if p.is_file())


def _overlaps(a: Path, b: Path) -> bool:
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def check_out_dir(ws: Workspace, out: str | os.PathLike[str] | None) -> Path:
    """The site folder, refused when it would lie in (or hold) the run folders or the data
    store: publishing must never write where runs and data versions live."""
    target = Path(out) if out is not None else ws.site_dir
    if not target.is_absolute():
        target = Path.cwd() / target
    resolved = target.resolve()
    for what, place in (("the run folders", ws.runs_dir), ("the data store", ws.data_dir)):
        if _overlaps(resolved, place.resolve()):
            raise ParameterError(
                f"--out {ws.relative(resolved)} overlaps {what} ({ws.relative(place)})",
                parameter="out",
                hint="publish somewhere else, e.g. the default workspace/site",
            )
    if resolved.exists() and not resolved.is_dir():
        raise ParameterError(f"--out {resolved} is a file, not a folder", parameter="out")
    return resolved


def publish(
    ws: Workspace,
    out: str | os.PathLike[str] | None = None,
    *,
    with_code: bool = False,
    stages: tuple[str, ...] = (),
    runs: tuple[str, ...] = (),
) -> PublishReport:
    """Build or update the static site of ``ws`` in ``out`` (default ``workspace/site``).

    ``stages`` limits the runs shown to those stages; ``runs`` are shown whatever their
    stage, and every pair of them is compared. No runs: :class:`NotFound` (exit 9).
    """
    start = time.perf_counter()
    target = check_out_dir(ws, out)
    options: dict[str, Any] = {"with_code": with_code, "stages": sorted(stages), "runs": list(runs)}
    state = load_state(target)
    key = site_key(ws, options)
    if state.get("key") == key and intact(target, state.get("files") or {}):
        return PublishReport(
            out=target,
            nothing_new=True,
            seconds=time.perf_counter() - start,
            unchanged=len(state["files"]),
            runs=len(state.get("runs") or {}),
        )
    content = gather(ws, Selection(stages=tuple(stages), named=tuple(runs)))
    site = Site(ws=ws, content=content, with_code=with_code)
    writer = SiteWriter(target)
    try:
        with disk_full_as_error(target, "the site"):
            rendered, missing, removed = _write_site(site, writer, state, key)
    except BaseException:
        writer.undo()  # no new file and no state file: a failed publish never looks complete
        raise
    return PublishReport(
        out=target,
        nothing_new=False,
        seconds=time.perf_counter() - start,
        written=writer.written,
        unchanged=len(writer.unchanged),
        removed=removed,
        rendered_runs=rendered,
        runs=len(content.runs),
        missing_bundles=missing,
    )


def _write_site(
    site: Site, writer: SiteWriter, state: dict[str, Any], key: str
) -> tuple[list[str], list[str], list[str]]:
    """Every page and asset, then the state file last; returns (runs rendered, Evidently
    bundles missing, files removed)."""
    rendered, bundles, run_state = _write_runs(site, writer, state.get("runs") or {})
    write_static(writer)
    missing = write_evidently(writer, site.ws.assets_dir, bundles)
    writer.write("index.html", home_page(site))
    writer.write("runs.html", runs_page(site))
    writer.write("models.html", models_page(site, writer))
    listed = pairs(site)
    for a, b, why in listed:
        writer.write(f"compare/{compare_name(a, b)}", compare_page(site, a, b, why))
    writer.write("compare/index.html", compare_index(site, listed))
    removed = writer.prune(state.get("files") or {})
    writer.save_state({"key": key, "runs": run_state})
    return rendered, missing, removed


def _write_runs(
    site: Site, writer: SiteWriter, previous: dict[str, Any]
) -> tuple[list[str], set[str], dict[str, Any]]:
    """Each run's files: kept when its run key is unchanged, else rendered."""
    rendered: list[str] = []
    bundles: set[str] = set()
    state: dict[str, Any] = {}
    shown = site.content.run_ids
    for rec in site.content.runs:
        run_id = rec["run_id"]
        _, related, _ = lineage_runs(site, rec)
        related += [r for r in (rec.get("reproduces"), rec.get("cached_from")) if r]
        key = run_key(
            site.ws, run_id, {(r, r in shown) for r in related}, {"with_code": site.with_code}
        )
        prev = previous.get(run_id)
        if prev and prev.get("key") == key and intact(writer.out, prev.get("files") or {}):
            writer.keep(prev["files"])
            bundles |= set(prev.get("bundles") or [])
            state[run_id] = prev
            continue
        before = set(writer.files)
        named = write_run(site, rec, writer)
        files = {k: v for k, v in writer.files.items() if k not in before}
        state[run_id] = {"key": key, "files": files, "bundles": sorted(named)}
        bundles |= named
        rendered.append(run_id)
    return rendered, bundles, state
