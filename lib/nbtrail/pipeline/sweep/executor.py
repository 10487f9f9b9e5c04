"""Where sweep members run: on Dask (a ``LocalCluster`` of worker processes by default, or an
existing cluster at ``tcp://HOST:PORT``), or one after another in this process (``serial``,
the benchmark's baseline).

A member's kernel runs on the worker that runs :func:`~nbtrail.pipeline.sweep.member.run_member`.
Faults: a worker that dies mid-member is noticed by the scheduler, which runs the member again
on another worker up to ``distributed.scheduler.allowed-failures`` times (3 by default: the
bounded retry); after that the member ends as failed with the reason (``KilledWorker``). An
exception escaping the member function (a worker that cannot see the workspace) is retried
once (``retries=1``) on any worker.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from nbtrail.core.errors import ConfigError, Unreachable
from nbtrail.pipeline.sweep.member import MemberHooks, MemberOutcome, MemberTask, run_member

CONNECT_SECONDS = 8  # an unreachable scheduler is reported within 10 s
_ADDRESS = re.compile(r"^(tcp|tls|inproc|ws|wss)://[^\s:/]+(:\d+)?$")


@dataclass
class Handle:
    """A submitted member: a Dask future, or (serial) the outcome already computed."""

    task: MemberTask
    future: Any = None
    outcome: MemberOutcome | None = None


def lost(task: MemberTask, reason: str) -> MemberOutcome:
    """The outcome of a member whose worker never reported back."""
    return MemberOutcome(task.member, "failed", reason=reason)


@dataclass
class SerialExecutor:
    """Members one after another in this process: no Dask, no worker."""

    hooks: MemberHooks | None = None
    slots: int = 1

    def describe(self) -> dict[str, Any]:
        return {"kind": "serial", "workers": 1}

    def capacity(self) -> int:
        return 1

    def submit(self, task: MemberTask) -> Handle:
        return Handle(task, outcome=run_member(task, self.hooks))

    def wait_any(self, handles: Iterable[Handle], timeout: float) -> list[Handle]:
        return list(handles)

    def result(self, handle: Handle) -> MemberOutcome:
        assert handle.outcome is not None
        return handle.outcome

    def cancel(self, handles: Iterable[Handle]) -> None:
        """Nothing is ever pending."""

    def close(self) -> None:
        """Nothing to stop."""


@dataclass
class DaskExecutor:
    """Members as Dask tasks, one per worker thread at a time (``slots`` of them)."""

    client: Any
    cluster: Any = None
    address: str = ""
    slots: int = 1
    hooks: MemberHooks | None = None  # shipped with every task (the remote-only seam)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "local-cluster" if self.cluster is not None else "dask",
            "scheduler": self.address,
            "workers": len(self.client.nthreads()),
            "slots": self.slots,
        }

    def capacity(self) -> int:
        """Members that can run at once now: every worker thread (workers come and go)."""
        return max(1, sum(self.client.nthreads().values()))

    def submit(self, task: MemberTask) -> Handle:
        key = f"nbtrail-{task.sweep_id}-{'prefix' if task.member is None else task.member}"
        fut = self.client.submit(run_member, task, self.hooks, key=key, pure=False, retries=1)
        return Handle(task, future=fut)

    def wait_any(self, handles: Iterable[Handle], timeout: float) -> list[Handle]:
        """The handles that are done after at most ``timeout`` seconds (interruptible)."""
        from distributed import wait

        pending = list(handles)
        try:
            wait([h.future for h in pending], timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            pass
        return [h for h in pending if h.future.done()]

    def result(self, handle: Handle) -> MemberOutcome:
        """The member's outcome; a worker lost for good or a cancelled member is a failure."""
        try:
            outcome: MemberOutcome = handle.future.result()
        except Exception as exc:  # KilledWorker, CancelledError, an error escaping the member
            name = type(exc).__name__
            text = str(exc).splitlines()[0] if str(exc) else ""
            return lost(handle.task, f"{name}: {text}" if text else name)
        return outcome

    def cancel(self, handles: Iterable[Handle]) -> None:
        futures = [h.future for h in handles if h.future is not None]
        if futures:
            self.client.cancel(futures)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


@contextmanager
def _sigint_ignored_by_children() -> Iterator[None]:
    """While the LocalCluster's processes start, ignore SIGINT, so they inherit that: a
    Ctrl-C in the terminal (sent to the whole process group) then reaches this client alone,
    which decides what happens to started members. Restored at once; main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def open_executor(
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    hooks: MemberHooks | None = None,
) -> SerialExecutor | DaskExecutor:
    """Serial, an existing cluster (``scheduler``), or a new ``LocalCluster`` of ``workers``
    processes (default: one per core), one thread each. ``hooks`` run around each member on
    its worker (default: the shared filesystem's, which do nothing)."""
    if serial:
        return SerialExecutor(hooks)
    from distributed import Client

    if scheduler is not None:
        if not _ADDRESS.match(scheduler):
            raise ConfigError(
                f"scheduler address {scheduler!r} is not PROTOCOL://HOST:PORT",
                hint="e.g. --scheduler tcp://127.0.0.1:8786",
            )
        try:
            client = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError) as exc:
            raise Unreachable(
                f"no Dask scheduler answers at {scheduler} within {CONNECT_SECONDS} s "
                f"({type(exc).__name__})",
                hint="start one with `dask scheduler`, or leave out --scheduler for a local one",
            ) from None
        try:
            client.wait_for_workers(1, timeout=30)
        except TimeoutError:
            client.close()
            raise Unreachable(
                f"the Dask scheduler at {scheduler} has no workers",
                hint="start some with `dask worker " + scheduler + "`",
            ) from None
        slots = sum(client.nthreads().values())
        return DaskExecutor(client, address=scheduler, slots=max(1, slots), hooks=hooks)
    from distributed import LocalCluster

    n = workers or os.cpu_count() or 1
    with _sigint_ignored_by_children():
        cluster = LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(cluster)
    return DaskExecutor(
        client, cluster=cluster, address=cluster.scheduler_address, slots=n, hooks=hooks
    )
