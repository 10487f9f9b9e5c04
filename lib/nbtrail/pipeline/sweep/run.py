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
from nbtrail.data.remote import Remote
from nbtrail.pipeline.sweep.context import Sweep
from nbtrail.pipeline.sweep.executor import DaskExecutor, Handle, SerialExecutor, open_executor
from nbtrail.pipeline.sweep.member import MemberHooks, MemberOutcome
from nbtrail.pipeline.sweep.plan import SweepPlan, plan_sweep, range_or_values
from nbtrail.pipeline.sweep.promote import note_lost_attempts, promote_best
from nbtrail.pipeline.sweep.remote_executor import RemoteExecutor, open_remote_executor
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
    hooks: MemberHooks | None = None,
    remote: Remote | str | None = None,
    endpoint_url: str | None = None,
    on_event: Callable[[str], None] | None = None,
) -> SweepRecord:
    """Run the sweep of ``spec_path`` and return its record (also written to
    ``workspace/sweeps/<id>.json``); ``on_event`` receives progress lines.

    ``promote``: afterwards, run the pipeline once more with the best member's swept
    values on the pipeline's own parameters (the spec's fixed ``params`` are for members
    only), so the model meets the usual evaluate gates and A/B against the champion, which
    alone decide whether it is promoted.

    ``hooks`` run around each member on its worker: the shared filesystem's by default (they
    do nothing); workers without a shared disk get hooks that pull the member's inputs and
    push its results through the remote (see :mod:`nbtrail.pipeline.sweep.member`).

    ``remote`` (a folder or ``s3://`` URL, ``endpoint_url`` for S3-compatible servers): the
    workers of ``scheduler`` share no disk with this client; each runs in its own project
    folder and the state travels through the remote (:mod:`~nbtrail.pipeline.sweep.remote_hooks`)."""
    sp = plan_sweep(ws, spec_path)
    executor: SerialExecutor | DaskExecutor | RemoteExecutor
    if remote is not None:
        executor = open_remote_executor(
            ws, remote, endpoint_url=endpoint_url, scheduler=scheduler, serial=serial
        )
    else:
        executor = open_executor(scheduler=scheduler, workers=workers, serial=serial, hooks=hooks)
    try:
        sw = Sweep(ws, sp, _new_record(sp, executor.describe()), executor, on_event or _quiet)
        sw.save()
        sw.say(
            f"sweep {sw.rec['sweep_id']}: {sp.spec.kind} over {', '.join(sp.spec.space)} on "
            f"{executor.describe()['kind']} ({executor.capacity()} at a time)"
        )
        _run_prefix(sw)
        _run_members(sw)
        note_lost_attempts(ws, sw.rec)
        sw.save()
        if promote:
            promote_best(sw)
    finally:
        executor.close()
    return sw.rec


def _quiet(_msg: str) -> None:
    """No progress lines."""


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


def _run_prefix(sw: Sweep) -> None:
    sp = sw.plan
    if not sp.prefix:
        return
    sw.say(f"shared stages first, once: {', '.join(sp.prefix)}")
    out = sw.run_one(sw.task(sp.member_values({}), role="prefix", stages=sp.prefix))
    sw.rec["prefix"] = out.runs
    if out.status != "completed":
        sw.rec["status"], sw.rec["ended"], sw.rec["note"] = "failed", record.now(), out.reason
        sw.save()
        if out.error is not None:
            raise out.error  # the stage's own error (a StageFailed naming cell and notebook)
        raise StageFailed(
            stage=sp.prefix[0],
            notebook=sp.notebooks[sp.prefix[0]],
            cell=None,
            ename="WorkerLost",
            evalue=out.reason or "the worker running the shared stages was lost",
            saved=None,
        )
    sw.save()


def _run_members(sw: Sweep) -> None:
    spec, rec, executor, say = sw.plan.spec, sw.rec, sw.executor, sw.say
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
                task = sw.task(sw.plan.member_values(s.values), member=s.number)
                running[s.number] = (executor.submit(task), s)
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
                sw.save()
                say(_member_line(member, spec.metric))
    except KeyboardInterrupt:
        executor.cancel([h for h, _ in running.values()])
        for _h, s in running.values():
            rec["members"].append(
                _member(
                    None,
                    spec.metric_name,
                    s,
                    MemberOutcome(s.number, "interrupted", reason="stopped by a second Ctrl-C"),
                )
            )
        rec["status"], rec["ended"] = "interrupted", record.now()
        sw.save()
        raise
    rec["status"] = "interrupted" if stopping else "completed"
    rec["ended"] = record.now()
    sw.save()
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
