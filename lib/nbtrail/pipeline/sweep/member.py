"""One sweep member, run where a worker runs it: an ordinary pipeline run through the
:class:`~nbtrail.pipeline.runner.Runner` (same records, cache, lineage, OpenLineage events),
its records tagged with the sweep id.

:func:`run_member` is the worker's entry point; it is a plain function of picklable values,
so Dask ships it to a worker process and the member's kernels start *there*. Around the run
sit two hooks (:class:`MemberHooks`), the seam for workers without a shared disk:
``prepare`` makes the worker's workspace ready (shared filesystem: the same path, nothing to
do; remote-only: pull the data versions and upstream run folders the member reads, by
content hash) and ``finish`` hands the results back (remote-only: push the run folders the
member wrote, so the client pulls them and its index gains them). The shared-filesystem hooks
are here; the remote-only ones are :class:`~nbtrail.pipeline.sweep.remote_hooks.RemoteOnly`.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nbtrail.core.errors import NbtrailError
from nbtrail.core.workspace import Workspace


@dataclass(frozen=True)
class MemberTask:
    """What a worker needs to run one member, the shared prefix (``role`` prefix, ``member``
    None) or the best member's values on the pipeline's own parameters (``role`` promote)."""

    root: str
    sweep_id: str
    member: int | None
    values: dict[str, Any]  # stage.key -> value (fixed and swept)
    stages: tuple[str, ...]
    where: str  # named in parameter errors: the spec file
    role: str = "member"  # member, prefix or promote
    reads: tuple[str, ...] = ()  # remote-only: runs to pull first (the client found them reusable)


@dataclass
class MemberOutcome:
    """How a member ended on its worker: the runs it used and each stage's metrics."""

    member: int | None
    status: str  # completed, failed
    runs: dict[str, str] = field(default_factory=dict)
    executed: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    reason: str | None = None
    seconds: float = 0.0
    worker: str = ""
    error: NbtrailError | None = None  # the error itself (it pickles), for the prefix


class MemberHooks(Protocol):
    """Before and after a member on its worker (see the module docstring)."""

    def prepare(self, task: MemberTask) -> Workspace: ...

    def finish(self, ws: Workspace, task: MemberTask, outcome: MemberOutcome) -> None: ...


@dataclass(frozen=True)
class SharedFilesystem:
    """Workers see the client's workspace at the same path: nothing to pull or push."""

    def prepare(self, task: MemberTask) -> Workspace:
        root = Path(task.root)
        if not (root / "params" / "pipeline.yaml").is_file():
            raise FileNotFoundError(
                f"this worker ({socket.gethostname()}) does not see the workspace {root}"
            )
        return Workspace(root)

    def finish(self, ws: Workspace, task: MemberTask, outcome: MemberOutcome) -> None:
        """The records are already in the shared workspace and its index."""


def run_member(task: MemberTask, hooks: MemberHooks | None = None) -> MemberOutcome:
    """Run the member's stages (unchanged ones reused from the cache) and say how it ended.

    A failed stage is an outcome, not an exception: the sweep goes on. A worker that dies
    takes this call with it; the executor decides about retrying."""
    from nbtrail.pipeline.plan import RunPlan, plan
    from nbtrail.pipeline.runner import PipelineFailed, Runner, StageResult

    hooks = hooks or SharedFilesystem()
    t0 = time.perf_counter()
    outcome = MemberOutcome(
        task.member, "completed", worker=f"{socket.gethostname()}:{os.getpid()}"
    )
    ws = hooks.prepare(task)
    results: list[StageResult] = []
    try:
        full = plan(ws, typed=(task.values, f"sweep {task.where}"))
        rp = RunPlan(pipeline=full.pipeline, stages=list(task.stages), params=full.params)
        tags = {"sweep": {"id": task.sweep_id, "member": task.member, "role": task.role}}
        results = Runner(ws, jobs=1, tags=tags).run(rp)
    except PipelineFailed as failed:
        results = failed.results
        outcome.status, outcome.reason, outcome.error = "failed", str(failed.error), failed.error
    except NbtrailError as exc:
        outcome.status, outcome.reason, outcome.error = "failed", str(exc), exc
    except Exception as exc:  # a member's own failure must not stop the sweep
        outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"
    for r in results:
        if r.run_id:
            outcome.runs[r.stage] = r.run_id
        if r.status in ("completed", "failed"):
            outcome.executed.append(r.stage)
        outcome.metrics[r.stage] = dict(r.metrics)
    outcome.seconds = round(time.perf_counter() - t0, 3)
    hooks.finish(ws, task, outcome)
    return outcome
