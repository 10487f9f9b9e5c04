"""The client's side of a sweep whose workers share no disk with it (``--remote URL``).

:class:`RemoteExecutor` wraps the Dask executor. Before it submits a task it finds, in the
client's own index, the runs the task will reuse (the stages whose fingerprint already has a
completed run: the shared prefix's ``data`` run for a member, everything for a sweep run
again), pushes those the remote may lack (the client pushes the prefix runs before fanning
out) and names them in the task (``reads``), so the worker pulls exactly them. When a member
ends it pulls the runs the worker pushed (:func:`~nbtrail.runs.sync.pull_runs`), verified,
into the client's run folders and index, where the sweep's record, ``nbtrail runs --sweep``
and the next sweep's cache find them. ``--promote-best`` runs here, in the client, so the
usual gates and A/B meet the client's own registry and champion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from nbtrail.core.errors import ConfigError, NbtrailError
from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote, resolve_remote
from nbtrail.pipeline.sweep.executor import DaskExecutor, Handle, SerialExecutor, open_executor
from nbtrail.pipeline.sweep.member import MemberOutcome, MemberTask, run_member
from nbtrail.pipeline.sweep.remote_hooks import RemoteOnly


def _absolute(remote: Remote) -> Remote:
    """A folder remote named relative to the client's directory, made absolute for workers."""
    if "://" in remote.url:
        return remote
    from pathlib import Path

    return Remote(str(Path(remote.url).expanduser().resolve()), remote.options)


@dataclass
class RemoteExecutor:
    """Dask members on workers with their own folders; the state through ``remote``."""

    ws: Workspace
    inner: DaskExecutor | SerialExecutor
    remote: Remote
    on_remote: set[str] = field(default_factory=set)  # runs known to be there (this sweep)
    code_tree: str | None = None

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "mode": "remote-only", "remote": self.remote.url}

    def capacity(self) -> int:
        return self.inner.capacity()

    def reusable(self, task: MemberTask) -> list[str]:
        """The runs of the client's index that ``task`` will reuse, by the runner's own
        fingerprints: each stage in order whose upstream runs are reusable and whose
        fingerprint has a completed run here."""
        from nbtrail.pipeline import fingerprint
        from nbtrail.pipeline.plan import plan
        from nbtrail.runs import index, records
        from nbtrail.runs.record_types import RunRecord

        if self.code_tree is None:
            self.code_tree = fingerprint.code_tree_hash(self.ws)
        try:
            full = plan(self.ws, typed=(task.values, f"sweep {task.where}"))
        except NbtrailError:
            return []  # the worker meets the same error and reports it as the member's
        done: dict[str, RunRecord] = {}
        for name in task.stages:
            st = full.pipeline.stages[name]
            if any(n not in done for n in st.needs):
                continue  # an upstream stage will execute, so this one will too
            up = {n: done[n] for n in st.needs}
            fp = fingerprint.of_stage(self.ws, st, full.params[name], up, self.code_tree)
            run_id = index.find_cached(self.ws, name, fp)
            if run_id:
                done[name] = records.load(self.ws, run_id)
        return [rec["run_id"] for rec in done.values()]

    def submit(self, task: MemberTask) -> Handle:
        """Push what the task reuses, then submit it naming those runs (``promote``: here)."""
        from nbtrail.runs.sync import push_runs

        if task.role == "promote":
            return Handle(task, outcome=run_member(task))
        reads = self.reusable(task)
        missing = [r for r in reads if r not in self.on_remote]
        if missing:
            push_runs(self.ws, self.remote, missing, logs=False)  # with their upstream runs
            self.on_remote.update(missing)
        return self.inner.submit(replace(task, reads=tuple(reads)))

    def wait_any(self, handles: Iterable[Handle], timeout: float) -> list[Handle]:
        pending = list(handles)
        here = [h for h in pending if h.outcome is not None]
        return here or self.inner.wait_any(pending, timeout)

    def result(self, handle: Handle) -> MemberOutcome:
        """The member's outcome, once the runs it used are in the client's index."""
        from nbtrail.runs import records
        from nbtrail.runs.sync import pull_runs

        if handle.outcome is not None:
            return handle.outcome
        out = self.inner.result(handle)
        lacking = [
            r for r in out.runs.values() if not (self.ws.run_dir(r) / records.RECORD_FILE).is_file()
        ]
        try:
            if lacking:
                pull_runs(self.ws, self.remote, lacking, logs=False)
        except (NbtrailError, OSError) as exc:
            out.status = "failed"
            out.reason = f"pulling runs {', '.join(lacking)} from {self.remote.url}: {exc}"
        self.on_remote.update(out.runs.values())
        return out

    def cancel(self, handles: Iterable[Handle]) -> None:
        self.inner.cancel([h for h in handles if h.outcome is None])

    def close(self) -> None:
        self.inner.close()


def open_remote_executor(
    ws: Workspace,
    remote: Remote | str,
    *,
    endpoint_url: str | None = None,
    scheduler: str | None = None,
    serial: bool = False,
) -> RemoteExecutor:
    """Connect to the cluster at ``scheduler`` whose workers each run in their own project
    folder (see :mod:`~nbtrail.pipeline.sweep.remote_hooks`), the state through ``remote``
    (a :class:`Remote` or URL: a folder or ``s3://bucket/prefix``)."""
    if scheduler is None or serial:
        raise ConfigError(
            "--remote needs --scheduler: the workers of a LocalCluster or --serial share "
            "this folder",
            hint="start `dask worker` in each worker's own project folder, then pass "
            "--scheduler tcp://HOST:PORT",
        )
    rem = (
        remote
        if isinstance(remote, Remote)
        else resolve_remote(ws, remote, endpoint_url=endpoint_url)
    )
    rem = _absolute(rem)
    inner = open_executor(scheduler=scheduler, hooks=RemoteOnly(rem))
    return RemoteExecutor(ws, inner, rem)
