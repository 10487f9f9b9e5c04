"""``nbtrail monitor watch DIR``: monitor each batch file landing in a folder, once."""

from __future__ import annotations

import argparse
import json
import sys

from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("monitor", help="monitor production batches as they arrive")
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
