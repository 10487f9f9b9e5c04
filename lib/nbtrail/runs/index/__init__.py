"""The run index: every run record in SQLite (``workspace/index.sqlite``), derived from run folders.

The run folders are the source of truth; the index is a cache of them that answers queries
(listings, filters on parameters and metrics, which run produced or read an artifact) without
reading thousands of files. It is

- rebuilt by :func:`rebuild` (``nbtrail index rebuild``), which reports run folders it cannot
  index (no record, not JSON, fails the schema) and completed runs whose files are missing
  (:mod:`.files`) instead of crashing on them; a record whose file is unchanged since it was
  validated is only shape-checked (``verify=True``: every record validated in full);
- updated by :func:`upsert`, which the runner calls after each record write;
- brought back in step by :func:`ensure`, which every query calls first: it compares the run
  folder names with the indexed run ids and re-reads records still marked ``running`` whose
  file changed, so it costs one directory listing, not one file read per run.

A ``running`` row is never trusted as stored: its status is recomputed on read from the
recorded pid (:func:`nbtrail.records.effective_status`), so a killed runner's run reads as
``interrupted``. Several processes may write at once: every write is one ``BEGIN IMMEDIATE``
transaction through :mod:`nbtrail.core.db` (WAL, busy timeout; ``Busy`` when it runs out).
A corrupt file is moved aside and rebuilt (:func:`nbtrail.core.db.recovering` wraps every
public call here).

Tables (all prefixed ``run``; other modules keep their own tables in the same file)::

    runs           one row per valid record: stage, status, pid, times, hashes, git, env
    run_params     run_id, name, value (JSON), num (for numeric comparison)
    run_metrics    run_id, name, value
    run_artifacts  run_id, direction (in/out), name, kind, digest, ref, path, src_stage, src_run_id
    run_problems   run folders whose record is unreadable or fails the schema (listed 0),
                   and files missing from listed runs (listed 1)
    run_index_meta layout version and build time

Modules: ``schema`` (tables, layout version, :func:`connect`), ``build`` (rows of a record,
:func:`upsert`, :func:`rebuild`, :func:`held_open`), ``files`` (a record's files checked),
``ensure`` (catching up with the run
folders), ``queries`` (listings, filters, run references) and ``cache`` (the runner's
fingerprint lookup). ``from nbtrail.runs import index; index.query_runs(...)`` is the way in.
"""

from __future__ import annotations

from nbtrail.runs.index.build import Problem, RebuildReport, held_open, rebuild, upsert
from nbtrail.runs.index.cache import find_cached
from nbtrail.runs.index.ensure import EnsureReport, ensure
from nbtrail.runs.index.queries import (
    RunPage,
    RunRow,
    get_run,
    parse_metric_filter,
    parse_param_filters,
    problems,
    query_page,
    query_runs,
    resolve_run_id,
    stage_metrics,
    stage_names,
)
from nbtrail.runs.index.schema import LAYOUT, TERMINAL, connect

__all__ = [
    "LAYOUT",
    "TERMINAL",
    "EnsureReport",
    "Problem",
    "RebuildReport",
    "RunPage",
    "RunRow",
    "connect",
    "ensure",
    "find_cached",
    "get_run",
    "held_open",
    "parse_metric_filter",
    "parse_param_filters",
    "problems",
    "query_page",
    "query_runs",
    "rebuild",
    "resolve_run_id",
    "stage_metrics",
    "stage_names",
    "upsert",
]
