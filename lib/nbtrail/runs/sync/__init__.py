"""Runs shared through the data remote: ``nbtrail runs push`` / ``nbtrail runs pull``.

``manifest`` (a run's files by content hash, ``runs/<run_id>.json`` on the remote),
``transfer`` (pushing and pulling runs, verified, into the run index) and ``logs`` (the
registry and monitoring logs merged as append-only segments). A Dask worker with no shared
disk calls :func:`pull_inputs_for` before a member and :func:`push_run_folder` after it.
"""

from __future__ import annotations

from nbtrail.runs.sync.logs import LogReport
from nbtrail.runs.sync.manifest import RunManifest
from nbtrail.runs.sync.transfer import (
    SyncReport,
    pull_inputs_for,
    pull_runs,
    push_run_folder,
    push_runs,
)

__all__ = [
    "LogReport",
    "RunManifest",
    "SyncReport",
    "pull_inputs_for",
    "pull_runs",
    "push_run_folder",
    "push_runs",
]
