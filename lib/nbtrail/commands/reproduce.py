"""``nbtrail reproduce RUN``: re-execute a run from its record and compare."""

from __future__ import annotations

import argparse
import json
import sys

from nbtrail.core.errors import NotReproduced
from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="re-execute a recorded run and compare its results")
    p.add_argument("run_id", metavar="RUN")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.pipeline.reproduce import reproduce

    rep = reproduce(
        ws, args.run_id, on_event=lambda m: print(f"nbtrail: {m}", file=sys.stderr, flush=True)
    )
    if args.json:
        print(json.dumps(rep.to_dict(), indent=2))
    else:
        print(f"reproduced {rep.original['run_id']} as {rep.new['run_id']}")
        for name, a, b, same in rep.metrics:
            print(f"  metric {name:<28} {a!s:>22} {b!s:>22}  {'same' if same else 'DIFFERS'}")
        for name, a, b, same in rep.outputs:
            print(
                f"  output {name:<28} {str(a)[:12]:>22} {str(b)[:12]:>22}  "
                f"{'same' if same else 'DIFFERS'}"
            )
        for note in rep.notes:
            print(f"  note: {note}")
        print("identical" if rep.identical else "not identical")
    if not rep.identical:
        raise NotReproduced(
            f"run {rep.original['run_id']} did not reproduce: see the differing lines above"
        )
    return 0
