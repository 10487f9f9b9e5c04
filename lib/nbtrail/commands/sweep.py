"""``nbtrail sweep SPEC``: run a parameter sweep on Dask; ``nbtrail sweep show ID``: its table."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="a parameter sweep (grid, random, optuna) on Dask; `sweep show ID` prints one",
        description=(
            "Run the sweep of SPEC (params/sweeps/NAME.yaml, or NAME): every member is an "
            "ordinary pipeline run, unchanged stages reused. `nbtrail sweep show ID` (an id, "
            "a prefix or `latest`) prints a finished sweep's table."
        ),
    )
    p.add_argument("spec", metavar="SPEC|show", help="the sweep spec, or `show`")
    p.add_argument("sweep_id", nargs="?", metavar="ID", help="with `show`: the sweep")
    p.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="an existing Dask cluster's scheduler"
    )
    p.add_argument(
        "--workers", type=int, help="LocalCluster worker processes (default: one per core)"
    )
    p.add_argument("--serial", action="store_true", help="no Dask: members one after another, here")
    p.add_argument(
        "--remote",
        metavar="URL",
        help="with --scheduler: workers share no disk; each runs in its own project folder "
        "($NBTRAIL_WORKER_ROOT or its cwd) and runs travel through URL (folder or s3://)",
    )
    p.add_argument("--endpoint-url", help="with --remote: S3-compatible endpoint (MinIO, moto)")
    p.add_argument(
        "--promote-best",
        action="store_true",
        help="then run the best member's values through the usual evaluate gates and A/B",
    )
    p.add_argument("--json", action="store_true", help="print the sweep's record as JSON")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.practices.sweep import format_table, record

    if args.spec == "show":
        rec = record.load(ws, args.sweep_id or "latest")
    else:
        from nbtrail.pipeline.sweep import run_sweep

        rec = run_sweep(
            ws,
            Path(args.spec),
            scheduler=args.scheduler,
            workers=args.workers,
            serial=args.serial,
            promote=args.promote_best,
            remote=args.remote,
            endpoint_url=args.endpoint_url,
            on_event=lambda msg: print(f"nbtrail: {msg}", file=sys.stderr, flush=True),
        )
    print(json.dumps(rec, indent=2) if args.json else format_table(rec))
    return 0
