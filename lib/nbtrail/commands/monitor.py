"""``nbtrail monitor watch DIR`` (each batch file landing in a folder monitored once) and
``nbtrail monitor labels BATCH LABELS_FILE`` (late labels joined to a monitored batch)."""

from __future__ import annotations

import argparse
import json
import sys

from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "monitor", help="monitor batches as they arrive; join labels that arrive later"
    )
    verbs = p.add_subparsers(dest="monitor_command", metavar="VERB", required=True)
    w = verbs.add_parser(
        "watch", help="run the monitor stage on each new CSV/Parquet file in DIR, once"
    )
    w.add_argument(
        "folder", metavar="DIR", help="the folder batch files land in (relative: to the root)"
    )
    w.add_argument("--every", default="10m", help="how often to look (30s, 10m, 1h; default 10m)")
    w.add_argument(
        "--once", action="store_true", help="monitor what is there now and exit (for cron)"
    )
    w.add_argument("--alert-url", metavar="URL", help="POST a failed verdict to this webhook")
    w.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="monitor.KEY=VALUE",
        help="override a monitor parameter (value parsed as YAML); repeatable",
    )
    w.set_defaults(func=handle_watch)
    labels = verbs.add_parser(
        "labels",
        help="join late labels to a monitored batch by id; record the realised performance",
    )
    labels.add_argument("batch", metavar="BATCH", help="the batch's name in the monitoring history")
    labels.add_argument(
        "labels_file", metavar="LABELS_FILE", help="CSV or Parquet: the id column and the target"
    )
    labels.set_defaults(func=_labels)


def handle_watch(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.pipeline.watch import VERDICT_FAILED, Watched, parse_every, watch

    def event(msg: str) -> None:
        print(f"nbtrail: {msg}", file=sys.stderr, flush=True)

    def batch(item: Watched) -> None:
        print(f"{item.name}: {item.status} (run {item.run_id or '-'}) {item.detail}", flush=True)

    overrides = list(args.param)
    if args.alert_url:
        overrides.append(f"monitor.alert_url={json.dumps(args.alert_url)}")
    done = watch(
        ws,
        args.folder,
        every_s=parse_every(args.every),
        once=args.once,
        overrides=overrides,
        on_event=event,
        on_batch=batch,
    )
    if not done:
        print("no new batch files")
    if not args.once:
        return 0  # stopped by SIGTERM / SIGINT: each batch's verdict was recorded (and alerted)
    codes = [d.exit_code for d in done]
    return VERDICT_FAILED if VERDICT_FAILED in codes else max(codes, default=0)


def _labels(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.core.humanize import human
    from nbtrail.practices import monitoring as mon

    result = mon.record_labels(ws, args.batch, args.labels_file)
    print(
        f"joined {human(result.labelled)} label(s) to {human(result.rows)} "
        f"row(s) of batch {result.batch} (monitor run {result.run_id}); labels kept as "
        f"{result.dataset}"
    )
    print(mon.format_estimates(result.history))
    return 0
