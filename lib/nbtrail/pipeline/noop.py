"""The no-op answer of ``nbtrail run``, replayed without planning when nothing it read changed.

A ``nbtrail run`` that reuses every stage has read a known set of files: the pipeline and
parameter files, the notebooks, the ``lib/`` and ``notebooks/`` trees, the lock, the declared
and parameter-named input files, the dataset catalog, the reused runs' records and outputs.
After such a run, :func:`save` keeps the lines it printed together with the ``stat`` of every
one of those files (size, mtime, ctime, inode; or "missing"); the next identical invocation
asks :func:`replay`, which re-stats them and, when every one is unchanged, returns the same
lines without importing the planner, YAML, the index or papermill. Any difference (a file
touched, added to a folder, removed; a new run folder) falls back to the full plan.

Like git's index, a file whose mtime or ctime lies at or after the start of the run that
read it may have changed while it was read ("racily clean"): such a run saves nothing, so a
full run (which writes records and outputs) is cached by the next no-op. A run still
``running`` in the index may end with a run that changes the answer: nothing is saved then
either. This module imports only the standard library's ``os`` and ``json`` so that a hit
costs little more than the interpreter's start-up.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrail.core.workspace import Workspace
    from nbtrail.pipeline.plan import RunPlan
    from nbtrail.runs.record_types import RunRecord

FORMAT = 1
CACHE_NAME = "noop-run.json"
MAX_ENTRIES = 8
RACY_MARGIN_NS = 100_000_000  # the kernel's coarse file clock may lag by a few ms
SKIP_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".git"})

NOTHING_CHANGED = "nothing changed: every stage reused its last run"
PIPELINE_FILE = os.path.join("params", "pipeline.yaml")
ROOT_ENV = "NBTRAIL_ROOT"

Signature = list[int] | None  # [kind, size, mtime_ns, ctime_ns, ino]; None: missing


def clock_ns() -> int:
    """The wall clock a run's start is taken with, to compare with file times."""
    return time.time_ns()


def invocation_key(
    root: str, *, stage: str | None, overrides: Sequence[str], params_file: str | None
) -> str:
    """What identifies one ``nbtrail run`` invocation's answer (forcing never replays). The
    planner's own code is among the files an answer depends on (:func:`dependencies`)."""
    pf = os.path.abspath(params_file) if params_file else None
    return json.dumps([FORMAT, root, stage, list(overrides), pf])


def find_root(start: str | None) -> str | None:
    """The workspace root as :meth:`nbtrail.core.workspace.Workspace.find` finds it (from
    ``start``, else ``$NBTRAIL_ROOT``, else the cwd, upwards), or None: with ``os.path``
    only, so a replay needs no ``pathlib``."""
    if start is None:
        start = os.environ.get(ROOT_ENV) or os.getcwd()
    here = os.path.realpath(start)
    while True:
        if os.path.isfile(os.path.join(here, PIPELINE_FILE)):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def workspace_dir(root: str) -> str:
    """``Workspace(root).workspace_dir`` as a string."""
    return os.path.join(root, "workspace")


def print_answer(hit: dict[str, Any]) -> None:
    """Print a replayed answer exactly as the run that saved it printed it."""
    import sys

    for event in hit["events"]:
        print(f"nbtrail: {event}", file=sys.stderr)
    print(hit["summary"])
    print(NOTHING_CHANGED)


def _cache_path(workspace_dir: str) -> str:
    return os.path.join(workspace_dir, "tmp", CACHE_NAME)


def signature(path: str) -> Signature:
    """What ``path`` looks like to ``stat`` (None when it does not exist)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    kind = 1 if stat.S_ISDIR(st.st_mode) else 0
    return [kind, st.st_size if not kind else 0, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def walk(top: str) -> list[str]:
    """``top`` and every folder and file below it (caches and checkpoints left out)."""
    out = [top]
    try:
        entries = sorted(os.scandir(top), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.is_dir(follow_symlinks=True):
            if e.name not in SKIP_DIRS:
                out += walk(e.path)
        else:
            out.append(e.path)
    return out


def replay(workspace_dir: str, key: str) -> dict[str, Any] | None:
    """The saved answer (``{"events": [...], "summary": str}``) of the invocation ``key``,
    when every file it depended on is unchanged; otherwise None."""
    try:
        with open(_cache_path(workspace_dir), encoding="utf-8") as f:
            data = json.load(f)
        entry = data["entries"][key]
        deps = entry["deps"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for path, sig in deps.items():
        if signature(path) != sig:
            return None
    return {"events": list(entry["events"]), "summary": str(entry["summary"])}


def save(
    workspace_dir: str,
    key: str,
    *,
    started_ns: int,
    paths: Iterable[str],
    events: list[str],
    summary: str,
) -> bool:
    """Keep the answer of a run that reused every stage; False when it is not safe to (a
    file it depends on changed at or after ``started_ns``). Never raises for I/O."""
    deps: dict[str, Signature] = {}
    for p in paths:
        sig = signature(p)
        if sig is not None and max(sig[2], sig[3]) >= started_ns - RACY_MARGIN_NS:
            return False
        deps[p] = sig
    target = _cache_path(workspace_dir)
    try:
        with open(target, encoding="utf-8") as f:
            entries = json.load(f).get("entries", {})
        if not isinstance(entries, dict):
            entries = {}
    except (OSError, ValueError, AttributeError):
        entries = {}
    entries.pop(key, None)
    entries[key] = {"deps": deps, "events": events, "summary": summary}
    entries = dict(list(entries.items())[-MAX_ENTRIES:])
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{os.getpid()}.part"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"format": FORMAT, "entries": entries}, f)
        os.replace(tmp, target)
    except OSError:
        return False
    return True


def _param_paths(root: str, params: dict[str, Any]) -> list[str]:
    """The paths a stage's parameter values may name, as the fingerprint reads them
    (:func:`nbtrail.pipeline.fingerprint.parameter_inputs`): each is watched, present or not."""
    out: list[str] = []
    for value in params.values():
        if not isinstance(value, str) or not value or len(value) > 4096 or "\n" in value:
            continue
        for part in value.split(","):
            part = part.strip()
            path = part if os.path.isabs(part) else os.path.join(root, part)
            out += walk(path) if os.path.isdir(path) else [path]
    return out


def dependencies(
    ws: Workspace, rp: RunPlan, params_file: str | None, reused: Iterable[RunRecord]
) -> list[str] | None:
    """Every path whose change could change the answer of a run of ``rp`` that reused the
    runs ``reused``; None when the answer may change without any of them changing (a run of
    the workspace is still ``running``: it may end as a newer run to reuse)."""
    from nbtrail.data.store import ObjectStore
    from nbtrail.runs import index

    if index.query_runs(ws, status="running", limit=1):
        return None
    root = str(ws.root)
    paths = [*walk(str(ws.params_dir)), *walk(str(ws.lib_dir)), *walk(str(ws.notebooks_dir))]
    paths += [str(ws.pipeline_file), str(ws.lock_file), str(ws.runs_dir)]
    paths += walk(str(ws.data_dir / "datasets"))
    paths += walk(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # nbtrail's code
    if params_file:
        paths.append(os.path.abspath(params_file))
    for name, st in rp.pipeline.stages.items():
        paths.append(str(st.notebook))
        if st.params_file is not None:
            paths.append(str(st.params_file))
        paths += [os.path.join(root, rel) for rel in st.inputs]
        paths += _param_paths(root, rp.params.get(name, {}))
    for profile in rp.pipeline.profiles:
        paths.append(str(profile.params_file))
    store = ObjectStore(ws.objects_dir)
    for rec in reused:
        run_dir = ws.run_dir(rec["run_id"])
        paths += [str(run_dir), str(run_dir / "record.json")]
        for art in rec["outputs"].values():
            if art.get("path"):
                p = str(art["path"])
                paths.append(p if os.path.isabs(p) else os.path.join(root, p))
            elif art.get("kind") == "dataset" and art.get("digest"):
                paths.append(str(store.path(art["digest"])))
    return list(dict.fromkeys(paths))
