"""``nbtrail run``: execute the pipeline (or one stage) and print the per-stage summary."""

from __future__ import annotations

import argparse
from pathlib import Path

from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run the pipeline; unchanged stages are reused")
    p.add_argument("--stage", help="run only this stage (its inputs: the latest upstream runs)")
    p.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="STAGE.KEY=VALUE",
        help="override a parameter (value parsed as YAML); repeatable",
    )
    p.add_argument("--params", type=Path, help="YAML file of {stage: {key: value}} overrides")
    p.add_argument("--force", action="store_true", help="re-execute every stage")
    p.add_argument(
        "--force-stage", action="append", default=[], metavar="S", help="re-execute stage S"
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=2,
        help="stages that do not depend on each other run at the same time, up to N (default 2)",
    )
    p.add_argument(
        "--progress",
        choices=["auto", "line", "plain", "off"],
        default="auto",
        help="the cell each stage is executing: one updating line (a terminal), a plain line "
        "per cell (auto when stdout is not a terminal, e.g. CI logs), or nothing",
    )
    p.add_argument(
        "--alert-url",
        metavar="URL",
        help="the monitor stage POSTs a failed verdict to this webhook (monitor.alert_url)",
    )
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.pipeline import noop

    overrides = list(args.param)
    if args.alert_url:  # imported here: yaml stays off the no-op path
        from nbtrail.pipeline.parameters import format_override

        overrides.append(format_override("monitor", "alert_url", args.alert_url))
    params_file = str(args.params) if args.params else None
    key = noop.invocation_key(
        str(ws.root), stage=args.stage, overrides=overrides, params_file=params_file
    )
    if not (args.force or args.force_stage):
        hit = noop.replay(str(ws.workspace_dir), key)
        if hit is not None:  # nothing it read changed since a run that reused every stage
            noop.print_answer(hit)
            return 0
    return _plan_and_run(args, ws, overrides, key)


def _plan_and_run(args: argparse.Namespace, ws: Workspace, overrides: list[str], key: str) -> int:
    from nbtrail.commands.progress import ProgressPrinter
    from nbtrail.pipeline import noop
    from nbtrail.pipeline.plan import plan
    from nbtrail.pipeline.runner import PipelineFailed, Runner
    from nbtrail.pipeline.summary import format_summary
    from nbtrail.runs import records

    started = noop.clock_ns()
    rp = plan(ws, stage=args.stage, overrides=overrides, params_file=args.params)
    for s in args.force_stage:
        rp.pipeline.stage(s)
    live = {"auto": None, "line": True, "plain": False, "off": False}[args.progress]
    printer = ProgressPrinter(live=live)
    events: list[str] = []

    def on_event(text: str) -> None:
        events.append(text)
        printer.message(text)

    runner = Runner(
        ws,
        force=args.force,
        force_stages=tuple(args.force_stage),
        jobs=args.jobs,
        on_event=on_event,
        on_progress=None if args.progress == "off" else printer.on_progress,
    )
    try:
        with printer:
            results = runner.run(rp)
    except PipelineFailed as failed:
        print(format_summary(failed.results, ws))
        raise failed.error from None
    summary = format_summary(results, ws)
    print(summary)
    reused = sum(r.status == "cached" for r in results)
    if reused == len(results):
        print(noop.NOTHING_CHANGED)
        if not (args.force or args.force_stage):
            recs = [records.load(ws, r.run_id) for r in results if r.run_id]
            deps = noop.dependencies(ws, rp, str(args.params) if args.params else None, recs)
            if deps is not None:
                noop.save(
                    str(ws.workspace_dir),
                    key,
                    started_ns=started,
                    paths=deps,
                    events=events,
                    summary=summary,
                )
    return 0
