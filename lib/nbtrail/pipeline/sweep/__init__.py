"""Sweeps executed: the plan checked against the notebooks (``plan``), one member on a worker
(``member``), the executors (``executor``: Dask, or serial) and the loop (``run``).
``from nbtrail.pipeline.sweep import run_sweep`` is the way in."""

from __future__ import annotations

from nbtrail.pipeline.sweep.member import MemberHooks, MemberOutcome, MemberTask, run_member
from nbtrail.pipeline.sweep.plan import SweepPlan, plan_sweep
from nbtrail.pipeline.sweep.run import run_sweep

__all__ = [
    "MemberHooks",
    "MemberOutcome",
    "MemberTask",
    "SweepPlan",
    "plan_sweep",
    "run_member",
    "run_sweep",
]
