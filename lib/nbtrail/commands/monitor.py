"""``nbtrail monitor labels BATCH LABELS_FILE``: late labels joined to a monitored batch."""

from __future__ import annotations

import argparse

from nbtrail.core.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("monitor", help="monitoring: labels that arrive after a batch")
    sub = p.add_subparsers(dest="monitor_command", metavar="SUBCOMMAND", required=True)
    labels = sub.add_parser(
        "labels",
        help="join late labels to a monitored batch by id; record the realised performance",
    )
    labels.add_argument("batch", metavar="BATCH", help="the batch's name in the monitoring history")
    labels.add_argument(
        "labels_file", metavar="LABELS_FILE", help="CSV or Parquet: the id column and the target"
    )
    labels.set_defaults(func=_labels)


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
