"""Workers that share no disk with the client (``nbtrail sweep SPEC --remote URL``): the
worker's side of a member (:class:`RemoteOnly`, the :class:`~nbtrail.pipeline.sweep.member.
MemberHooks` shipped with every task).

Each worker has its own working folder holding a checkout of the project (notebooks, params,
``requirements.lock``: the code travels by git or a copy, at the client's commit) and its own
``workspace/``; the state travels through the remote. The folder is ``$NBTRAIL_WORKER_ROOT``
as set when the worker was started (``NBTRAIL_WORKER_ROOT=/srv/churn dask worker tcp://...``),
else the worker process's current directory.

Before a member, ``prepare`` pulls the runs the client found reusable for it (``task.reads``:
the shared prefix's runs such as ``data``, and on a sweep run again the member's own runs) with
their upstream runs and dataset versions, by content hash and verified
(:func:`~nbtrail.runs.sync.pull_inputs_for`), so the runner's cache reuses them here. After
it, ``finish`` pushes each run the member wrote (:func:`~nbtrail.runs.sync.push_run_folder`);
the client then pulls them into its own index
(:class:`~nbtrail.pipeline.sweep.remote_executor.RemoteExecutor`). Registry and monitoring
log entries a member makes stay in the worker's folder (a sweep's members register under
their own model name; ``--promote-best`` runs in the client, against its own registry).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote
from nbtrail.pipeline.sweep.member import MemberOutcome, MemberTask

WORKER_ROOT_ENV = "NBTRAIL_WORKER_ROOT"


def worker_root() -> Path:
    """This worker's project folder: ``$NBTRAIL_WORKER_ROOT``, else the current directory."""
    given = os.environ.get(WORKER_ROOT_ENV)
    return Path(given).expanduser().resolve() if given else Path.cwd()


@dataclass(frozen=True)
class RemoteOnly:
    """Pull a member's inputs from ``remote`` before it, push the runs it wrote after it."""

    remote: Remote

    def prepare(self, task: MemberTask) -> Workspace:
        """The worker's own workspace, holding the runs ``task.reads`` (pulled if missing)."""
        from nbtrail.runs.sync import pull_inputs_for

        root = worker_root()
        if not (root / "params" / "pipeline.yaml").is_file():
            raise FileNotFoundError(
                f"this worker ({socket.gethostname()}) has no project checkout at {root}: start "
                f"`dask worker` in one, or set {WORKER_ROOT_ENV} to it"
            )
        ws = Workspace(root)
        if task.reads:
            pull_inputs_for(ws, self.remote, task.reads)
        return ws

    def finish(self, ws: Workspace, task: MemberTask, outcome: MemberOutcome) -> None:
        """Push every run the member wrote, and any it reused that the client did not name
        (this worker had it already). A push that fails makes the member failed, named."""
        from nbtrail.runs.sync import push_run_folder

        for stage, run_id in outcome.runs.items():
            if stage not in outcome.executed and run_id in task.reads:
                continue  # the client named it: it is on the remote
            try:
                push_run_folder(ws, self.remote, run_id)
            except Exception as exc:  # the run exists only here; the member cannot count
                lost = f"pushing run {run_id} to {self.remote.url}: {type(exc).__name__}: {exc}"
                outcome.reason = f"{outcome.reason}; {lost}" if outcome.reason else lost
                outcome.status = "failed"
                return
