"""One sweep in progress: its workspace, plan, record, executor and progress lines, and the
two things every step does with them (make a member's task, run one task to its end)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.sweep.executor import DaskExecutor, SerialExecutor
from nbtrail.pipeline.sweep.member import MemberOutcome, MemberTask
from nbtrail.pipeline.sweep.plan import SweepPlan
from nbtrail.pipeline.sweep.remote_executor import RemoteExecutor
from nbtrail.practices.sweep import record
from nbtrail.practices.sweep.record import SweepRecord


@dataclass
class Sweep:
    ws: Workspace
    plan: SweepPlan
    rec: SweepRecord
    executor: SerialExecutor | DaskExecutor | RemoteExecutor
    say: Callable[[str], None]

    def task(
        self,
        values: dict[str, Any],
        *,
        member: int | None = None,
        role: str = "member",
        stages: tuple[str, ...] | None = None,
    ) -> MemberTask:
        """A task of this sweep: ``values`` are ``stage.key`` values, complete."""
        return MemberTask(
            root=str(self.ws.root),
            sweep_id=self.rec["sweep_id"],
            member=member,
            values=values,
            stages=self.plan.stages if stages is None else stages,
            where=self.plan.where,
            role=role,
        )

    def run_one(self, task: MemberTask) -> MemberOutcome:
        """Submit ``task`` and wait for its outcome (Ctrl-C interrupts the wait)."""
        h = self.executor.submit(task)
        while not self.executor.wait_any([h], 1.0):
            pass
        return self.executor.result(h)

    def save(self) -> None:
        record.write(self.ws, self.rec)
