"""``nbtrail sweep``: plan the sweep, run the shared prefix once, then fan the members out.

The order of work: everything checked (:func:`~nbtrail.pipeline.sweep.plan.plan_sweep`) before
an executor starts; the stages no swept parameter reaches (``data`` in a sweep over
``train.*``) run once, as one task, so parallel members never both run them and each member
reuses them through the cache; then members are asked of the suggester and submitted, as many
at a time as the executor has slots, each one's metric told back when it ends. The sweep's
record is rewritten after each member.

Ctrl-C stops asking for members and waits for the ones already started (they end completed
or failed, as usual); a second Ctrl-C cancels them, stops the cluster and records them as
interrupted (their run records read as interrupted too: their worker process is gone).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from nbtrail.core.errors import StageFailed
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.sweep.executor import DaskExecutor, Handle, SerialExecutor, open_executor
from nbtrail.pipeline.sweep.member import MemberOutcome, MemberTask
from nbtrail.pipeline.sweep.plan import SweepPlan, plan_sweep, range_or_values
from nbtrail.pipeline.sweep.promote import note_lost_attempts, promote_best
from nbtrail.practices.sweep import Suggestion, record, suggester
from nbtrail.practices.sweep.record import Member, MemberStatus, SweepRecord


def run_sweep(
    ws: Workspace,
    spec_path: Path,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    promote: bool = False,
    on_event: Callable[[str], None] | None = None,
) -> SweepRecord:
    """Run the sweep of ``spec_path`` and return its record (also written to
    ``workspace/sweeps/<id>.json``); ``on_event`` receives progress lines.

    ``promote``: afterwards, run the pipeline once more with the best member's swept
    values on the pipeline's own parameters (the spec's fixed ``params`` are for members
    only), so the model meets the usual evaluate gates and A/B against the champion, which
    alone decide whether it is promoted."""
    say = on_event or (lambda _msg: None)
    sp = plan_sweep(ws, spec_path)
    executor = open_executor(scheduler=scheduler, workers=workers, serial=serial)
    try:
        rec = _new_record(sp, executor.describe())
        record.write(ws, rec)
        say(
            f"sweep {rec['sweep_id']}: {sp.spec.kind} over {', '.join(sp.spec.space)} on "
            f"{executor.describe()['kind']} ({executor.capacity()} at a time)"
        )
        _run_prefix(ws, sp, rec, executor, say)
        _run_members(ws, sp, rec, executor, say)
        note_lost_attempts(ws, rec)
        record.write(ws, rec)
        if promote:
            promote_best(ws, sp, rec, executor, say)
    finally:
        executor.close()
    return rec


def _new_record(sp: SweepPlan, executor: dict[str, Any]) -> SweepRecord:
    spec = sp.spec
    return {
        "schema_version": 1,
        "sweep_id": record.new_sweep_id(spec.name),
        "name": spec.name,
        "spec": sp.where,
        "kind": spec.kind,
        "metric": spec.metric,
        "direction": spec.direction,
        "space": {k: range_or_values(d) for k, d in spec.space.items()},
        "params": spec.params,
        "stages": list(sp.stages),
        "prefix": {},
        "executor": executor,
        "status": "running",
        "started": record.now(),
        "ended": None,
        "members": [],
        "best": None,
        "note": None,
    }


def _task(ws: Workspace, sp: SweepPlan, rec: SweepRecord, s: Suggestion | None) -> MemberTask:
    return MemberTask(
        root=str(ws.root),
        sweep_id=rec["sweep_id"],
        member=None if s is None else s.number,
        values=sp.member_values({} if s is None else s.values),
        stages=sp.prefix if s is None else sp.stages,
        where=sp.where,
        role="prefix" if s is None else "member",
    )


def _run_prefix(
    ws: Workspace,
    sp: SweepPlan,
    rec: SweepRecord,
    executor: SerialExecutor | DaskExecutor,
    say: Callable[[str], None],
) -> None:
    if not sp.prefix:
        return
    say(f"shared stages first, once: {', '.join(sp.prefix)}")
    h = executor.submit(_task(ws, sp, rec, None))
    while not executor.wait_any([h], 1.0):
        pass
    out = executor.result(h)
    rec["prefix"] = out.runs
    if out.status != "completed":
        rec["status"], rec["ended"], rec["note"] = "failed", record.now(), out.reason
        record.write(ws, rec)
        if out.error is not None:
            raise out.error  # the stage's own error (a StageFailed naming cell and notebook)
        raise StageFailed(
            stage=sp.prefix[0],
            notebook=ws.relative(sp.prefix[0]),
            cell=None,
            ename="WorkerLost",
            evalue=out.reason or "the worker running the shared stages was lost",
            saved=None,
        )
    record.write(ws, rec)


def _run_members(
    ws: Workspace,
    sp: SweepPlan,
    rec: SweepRecord,
    executor: SerialExecutor | DaskExecutor,
    say: Callable[[str], None],
) -> None:
    spec = sp.spec
    ask = suggester(spec)
    deadline = time.monotonic() + spec.budget.max_minutes * 60 if spec.budget.max_minutes else None
    running: dict[int, tuple[Handle, Suggestion]] = {}
    asked = 0
    exhausted = stopping = False
    try:
        while True:
            while not (exhausted or stopping) and len(running) < executor.capacity():
                if asked >= spec.budget.max_members:
                    exhausted = True
                    break
                if deadline is not None and time.monotonic() > deadline:
                    rec["note"] = f"time budget ({spec.budget.max_minutes:g} min) reached"
                    exhausted = True
                    break
                s = ask.ask()
                if s is None:
                    exhausted = True
                    break
                asked += 1
                say(f"member {s.number}: {_values_text(s.values)}")
                running[s.number] = (executor.submit(_task(ws, sp, rec, s)), s)
            if not running:
                break
            try:
                done = executor.wait_any([h for h, _ in running.values()], 1.0)
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                say(
                    f"interrupted: no new members; waiting for the {len(running)} started "
                    "(Ctrl-C again to stop them)"
                )
                continue
            for h in done:
                assert h.task.member is not None
                _, s = running.pop(h.task.member)
                out = executor.result(h)
                member = _member(spec.metric_stage, spec.metric_name, s, out)
                ask.tell(s, member["metric"] if member["status"] == "completed" else None)
                rec["members"].append(member)
                record.write(ws, rec)
                say(_member_line(member, spec.metric))
    except KeyboardInterrupt:
        executor.cancel([h for h, _ in running.values()])
        for _h, s in running.values():
            rec["members"].append(
                _member(
                    None,
                    spec.metric_name,
                    s,
                    MemberOutcome(s.number, "interrupted", reason="interrupted (Ctrl-C)"),
                )
            )
        rec["status"], rec["ended"] = "interrupted", record.now()
        record.write(ws, rec)
        raise
    rec["status"] = "interrupted" if stopping else "completed"
    rec["ended"] = record.now()
    record.write(ws, rec)
    if stopping:
        raise KeyboardInterrupt


def _member(stage: str | None, metric: str, s: Suggestion, out: MemberOutcome) -> Member:
    value = _metric_of(out.metrics, stage, metric)
    status = out.status if out.status in ("completed", "failed", "interrupted") else "failed"
    reason = out.reason
    if status == "completed" and value is None:
        status, reason = "failed", f"no stage recorded the metric {metric!r}"
    return {
        "member": s.number,
        "values": s.values,
        "status": cast(MemberStatus, status),
        "metric": value,
        "runs": out.runs,
        "executed": out.executed,
        "seconds": out.seconds,
        "worker": out.worker or None,
        "reason": reason,
    }


def _metric_of(metrics: dict[str, dict[str, Any]], stage: str | None, name: str) -> float | None:
    """The member's metric: ``STAGE.METRIC``, or the last stage that recorded ``name``."""
    stages = [stage] if stage else list(reversed(list(metrics)))
    for st in stages:
        value = metrics.get(st, {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def _values_text(values: dict[str, Any]) -> str:
    from nbtrail.core.humanize import human

    return ", ".join(f"{k}={human(v)}" for k, v in values.items())


def _member_line(m: Member, metric: str) -> str:
    from nbtrail.core.humanize import human

    how = "reused every stage" if not m["executed"] else f"ran {', '.join(m['executed'])}"
    if m["status"] == "completed":
        return f"member {m['member']}: {metric} = {human(m['metric'])} ({how})"
    return f"member {m['member']}: {m['status']}: {m['reason']}"
