"""Push and pull runs through the data remote (``nbtrail runs push`` / ``nbtrail runs pull``).

A push sends, for each run, every file of its run folder as a content-addressed object (the
same ``objects/`` as the data, so bytes already there are not sent again), the dataset
versions it read or wrote (through :func:`nbtrail.data.remote.push`), and then its manifest
``runs/<run_id>.json`` (:mod:`~nbtrail.runs.sync.manifest`), last, so a remote manifest never
names a missing object. Runs still running are not pushed. Naming runs pushes their upstream
runs too, so the remote can always answer what a run was made from.

A pull fetches the runs this workspace lacks into a hidden staging folder, re-hashes every
file against its manifest as it streams in (a mismatch raises :class:`IntegrityError` naming
the object, the file and the run; a manifest naming a path it may not write, or an object
bigger than the manifest says, :class:`RemoteRefused`; either way nothing of that pull
becomes visible), pulls their dataset versions
(verified the same way), then renames each run folder into place and adds it to the run
index: the runner's cache lookup then finds it, so ``nbtrail run`` reuses every stage whose
fingerprint matches without starting a kernel, and ``nbtrail reproduce RUN`` works.

A run already here is left alone (pulling twice does nothing); one here whose record differs
from the remote's keeps this side's and is reported as a conflict. The registry and
monitoring logs are merged, never overwritten (:mod:`~nbtrail.runs.sync.logs`).

Killed half-way (SIGKILL, power loss), a push leaves objects and no manifest naming a missing
one; a pull leaves only its hidden staging folder (``workspace/runs/.pull.<pid>.*``), which
the next pull removes once that pid is gone. Either way the next one completes the work.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import DataError, NotFound
from nbtrail.core.hashing import hash_file
from nbtrail.core.processes import pid_alive
from nbtrail.core.workspace import Workspace
from nbtrail.data import remote as data_remote
from nbtrail.data.remote import Remote
from nbtrail.data.remote_objects import (
    clean_parts,
    fetch_objects,
    list_objects,
    read_capped,
    upload_bytes,
    upload_files,
)
from nbtrail.runs import records
from nbtrail.runs.record_types import RunRecord
from nbtrail.runs.sync import logs as shared_logs
from nbtrail.runs.sync.manifest import (
    RUN_ID,
    RunManifest,
    build,
    dataset_names,
    manifest_key,
)

_STAGING = ".pull."


@dataclass
class SyncReport:
    """What a push or pull moved: runs, objects and their bytes, dataset manifests, log
    entries; ``conflicts`` kept this side's version; ``skipped`` runs were still running."""

    url: str
    runs_sent: int = 0
    runs_present: int = 0
    objects_sent: int = 0
    objects_present: int = 0
    bytes_sent: int = 0
    datasets_sent: int = 0
    log_entries: int = 0
    runs: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _remote(ws: Workspace, remote: Remote | str | None, endpoint_url: str | None) -> Remote:
    if isinstance(remote, Remote):
        return remote
    return data_remote.resolve_remote(ws, remote, endpoint_url=endpoint_url)


def _remote_runs(fs: Any, root: str) -> set[str]:
    """The run ids with a manifest directly under ``runs/`` (temp names are not manifests)."""
    base = f"{root}/runs/"
    try:
        paths = fs.find(base.rstrip("/"))
    except FileNotFoundError:
        return set()
    names = (p[len(base) :] for p in paths if p.startswith(base))
    return {n[:-5] for n in names if n.endswith(".json") and RUN_ID.match(n[:-5])}


def _read_manifest(fs: Any, root: str, run_id: str, url: str) -> RunManifest:
    data = read_capped(fs, manifest_key(root, run_id), url=url, what=f"manifest of run {run_id}")
    return RunManifest.from_bytes(data, run_id=run_id, url=url)


# -- push -----------------------------------------------------------------------------------------


def _chosen(ws: Workspace, run_ids: Iterable[str] | None, upstream: bool) -> list[RunRecord]:
    """The named runs (and, with ``upstream``, what they read from), or every finished run."""
    from nbtrail.runs import index

    if run_ids is None:
        return [rec for _, rec, _ in records.iter_records(ws) if rec is not None]
    out: dict[str, RunRecord] = {}
    todo = [index.resolve_run_id(ws, ref) for ref in run_ids]
    while todo:
        run_id = todo.pop()
        if run_id in out:
            continue
        rec = records.load(ws, run_id)
        if rec["status"] == "running":
            raise DataError(f"run {run_id} is still running", hint="push it once it has ended")
        out[run_id] = rec
        if upstream:
            todo += list(rec["upstream"].values())
    return [out[k] for k in sorted(out)]


def push_runs(
    ws: Workspace,
    remote: Remote | str | None = None,
    run_ids: Iterable[str] | None = None,
    *,
    endpoint_url: str | None = None,
    upstream: bool = True,
    logs: bool = True,
) -> SyncReport:
    """Send runs to ``remote`` (a :class:`Remote`, a URL, or None: the project's ``remote:``).

    ``run_ids``: run ids, prefixes or stage names (each :class:`NotFound` if unknown), None
    for every run; ``upstream`` adds the runs they read from; ``logs`` also sends the registry
    and monitoring log entries the remote lacks. A remote that holds a *different* run under
    the same id is refused (:class:`DataError`).
    """
    rem = _remote(ws, remote, endpoint_url)
    fs, root = rem.filesystem()
    fs.invalidate_cache()
    report = SyncReport(rem.url)
    clean_parts(fs, root)
    chosen = _chosen(ws, run_ids, upstream)
    there = _remote_runs(fs, root)
    have = list_objects(fs, root)
    pending: list[RunManifest] = []
    uploads: list[tuple[str, str]] = []
    for rec in chosen:
        if rec["status"] == "running":
            report.skipped.append(rec["run_id"])
            continue
        m = build(ws, rec)
        if m.run_id in there:
            _check_same(m, _read_manifest(fs, root, m.run_id, rem.url), rem.url)
            report.runs_present += 1
            continue
        for rel, digest in sorted(m.files.items()):
            if digest in have:
                report.objects_present += 1
                continue
            uploads.append((str(ws.root / rel), data_remote.object_key(root, digest)))
            have.add(digest)
            report.objects_sent += 1
            report.bytes_sent += m.sizes.get(rel, 0)
        pending.append(m)
    upload_files(fs, uploads)
    names = set().union(*(dataset_names(m.datasets) for m in pending)) if pending else set()
    if names:
        sent = data_remote.push(ws, rem, names=sorted(names))
        report.objects_sent += sent.objects_sent
        report.objects_present += sent.objects_present
        report.bytes_sent += sent.bytes_sent
        report.datasets_sent += sent.manifests_sent
    for m in pending:  # manifests last: a remote manifest never names a missing object
        upload_bytes(fs, m.to_bytes(), manifest_key(root, m.run_id))
        report.runs_sent += 1
        report.runs.append(m.run_id)
    if logs:
        report.log_entries = shared_logs.push_logs(ws, fs, root, rem.url).entries
    return report


def _check_same(mine: RunManifest, theirs: RunManifest, url: str) -> None:
    if mine.files == theirs.files:
        return
    differ = sorted(
        p for p in set(mine.files) | set(theirs.files) if mine.files.get(p) != theirs.files.get(p)
    )
    raise DataError(
        f"remote {url} already holds a different run {mine.run_id} ({differ[0]} differs)",
        hint="a finished run never changes; check which side was edited by hand",
        run=mine.run_id,
    )


def push_run_folder(ws: Workspace, remote: Remote | str | None, run_id: str) -> SyncReport:
    """Send one run (its folder, outputs and dataset versions) and nothing else: what a worker
    calls after executing a member, before the client pulls it."""
    return push_runs(ws, remote, [run_id], upstream=False, logs=False)


# -- pull -----------------------------------------------------------------------------------------


def _wanted(fs: Any, root: str, url: str, run_ids: Iterable[str] | None) -> list[RunManifest]:
    there = _remote_runs(fs, root)
    if run_ids is None:
        return [_read_manifest(fs, root, r, url) for r in sorted(there)]
    out: dict[str, RunManifest] = {}
    todo = list(run_ids)
    while todo:
        run_id = todo.pop()
        if run_id in out:
            continue
        if run_id not in there:
            raise NotFound(f"remote {url} has no run {run_id!r}", hint="push it first")
        out[run_id] = _read_manifest(fs, root, run_id, url)
        todo += out[run_id].upstream
    return [out[k] for k in sorted(out)]


def _clean_staging(ws: Workspace) -> None:
    """Remove staging folders left by pulls that were killed."""
    if not ws.runs_dir.is_dir():
        return
    for d in ws.runs_dir.iterdir():
        pid = d.name[len(_STAGING) :].split(".", 1)[0]
        if d.name.startswith(_STAGING) and pid.isdigit() and not pid_alive(int(pid)):
            if d.is_dir():
                shutil.rmtree(d, ignore_errors=True)
            else:
                d.unlink(missing_ok=True)


def _stage(
    ws: Workspace,
    fs: Any,
    root: str,
    rem: Remote,
    m: RunManifest,
    report: SyncReport,
    fetched: dict[str, Path],
) -> tuple[Path, list[tuple[str, Path]]]:
    """Download and verify every file of ``m``: the run folder into a staging folder, other
    outputs into temp files. Returns (staging folder, [(destination, temp file)]).
    ``fetched`` (digest -> a verified copy from this pull) spares downloading bytes twice."""
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{_STAGING}{os.getpid()}.", dir=ws.runs_dir))
    url = rem.url
    elsewhere: list[tuple[str, Path]] = []
    wanted: list[tuple[str, Path, str, int | None]] = []
    copies: list[tuple[Path, Path]] = []
    try:
        for rel, digest in sorted(m.files.items()):
            what = f"{rel} of run {m.run_id}"
            if rel.startswith(m.folder_prefix):
                dest = staging / rel[len(m.folder_prefix) :]
            else:
                target = ws.root / rel
                if target.exists() or target.is_symlink():
                    if not target.is_file() or hash_file(target) != digest:
                        report.conflicts.append(f"{rel} differs here; kept this side's")
                    continue
                dest = staging.with_name(staging.name + f".{len(elsewhere)}.part")
                elsewhere.append((rel, dest))
            dest.parent.mkdir(parents=True, exist_ok=True)
            if digest in fetched:
                copies.append((fetched[digest], dest))
                continue
            wanted.append((digest, dest, what, m.sizes.get(rel)))
            fetched[digest] = dest
        report.bytes_sent += fetch_objects(fs, root, wanted, url=url, cap=rem.max_object_bytes)
        report.objects_sent += len(wanted)
        for src, dest in copies:  # bytes this pull already fetched and checked
            shutil.copyfile(src, dest)
        report.objects_present += len(copies)
        try:
            rec = json.loads((staging / records.RECORD_FILE).read_bytes())
        except ValueError as exc:
            raise DataError(f"remote {url}: the record of run {m.run_id} is unreadable") from exc
        records.validate(rec, where=f"remote {url}: run {m.run_id}")
        if rec.get("run_id") != m.run_id:
            raise DataError(f"remote {url}: run {m.run_id} holds the record of {rec['run_id']}")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for _, tmp in elsewhere:
            tmp.unlink(missing_ok=True)
        raise
    return staging, elsewhere


def pull_runs(
    ws: Workspace,
    remote: Remote | str | None = None,
    run_ids: Iterable[str] | None = None,
    *,
    endpoint_url: str | None = None,
    logs: bool = True,
) -> SyncReport:
    """Fetch the runs of ``remote`` this workspace lacks (or ``run_ids`` and their upstream
    runs), verified, into the run folders and the index; ``logs`` also merges the registry and
    monitoring logs. :class:`IntegrityError` names a tampered object and its run."""
    from nbtrail.runs import index

    rem = _remote(ws, remote, endpoint_url)
    fs, root = rem.filesystem()
    fs.invalidate_cache()
    report = SyncReport(rem.url)
    _clean_staging(ws)
    incoming: list[RunManifest] = []
    for m in _wanted(fs, root, rem.url, run_ids):
        here = ws.run_dir(m.run_id) / records.RECORD_FILE
        if here.is_file():
            report.runs_present += 1
            if hash_file(here) != m.files[m.record_path]:
                report.conflicts.append(f"run {m.run_id} differs here; kept this side's")
        else:
            incoming.append(m)
    staged: list[tuple[RunManifest, Path, list[tuple[str, Path]]]] = []
    fetched: dict[str, Path] = {}
    try:
        for m in incoming:
            staged.append((m, *_stage(ws, fs, root, rem, m, report, fetched)))
        names = set().union(*(dataset_names(m.datasets) for m in incoming)) if incoming else set()
        if names:
            got = data_remote.pull(ws, rem, names=sorted(names))
            report.objects_sent += got.objects_sent
            report.objects_present += got.objects_present
            report.bytes_sent += got.bytes_sent
            report.datasets_sent += got.manifests_sent
        for m, staging, elsewhere in staged:
            for rel, tmp in elsewhere:
                target = ws.root / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
            try:
                os.rename(staging, ws.run_dir(m.run_id))
            except OSError as exc:
                if not (ws.run_dir(m.run_id) / records.RECORD_FILE).is_file():
                    raise DataError(
                        f"cannot place run {m.run_id}: {ws.relative(ws.run_dir(m.run_id))} "
                        f"exists here without a record ({exc.strerror})",
                        hint="move that folder away and pull again",
                    ) from exc
                report.runs_present += 1  # a concurrent pull placed it first
                continue
            index.upsert(ws, records.load(ws, m.run_id))
            report.runs_sent += 1
            report.runs.append(m.run_id)
    finally:
        for _, staging, elsewhere in staged:
            shutil.rmtree(staging, ignore_errors=True)
            for _, tmp in elsewhere:
                tmp.unlink(missing_ok=True)
    if logs:
        merged = shared_logs.pull_logs(ws, fs, root, rem.url)
        report.log_entries = merged.entries
        report.conflicts += merged.conflicts
    return report


def pull_inputs_for(
    ws: Workspace, remote: Remote | str | None, run_ids: Iterable[str]
) -> SyncReport:
    """Fetch the runs a member will read from (``run_ids``, the upstream runs of the stage it
    executes) and their own upstream runs and dataset versions, verified: what a worker with
    no shared disk calls before running a stage. Logs are left alone."""
    return pull_runs(ws, remote, list(run_ids), logs=False)
