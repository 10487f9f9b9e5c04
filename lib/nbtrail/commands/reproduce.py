"""``nbtrail reproduce RUN``: re-execute a run from its record and compare."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from nbtrail.core.errors import NotReproduced
from nbtrail.core.workspace import Workspace

if TYPE_CHECKING:
    from nbtrail.pipeline.reproduce import Reproduction


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
        print("\n".join(report_lines(rep)))
    if not rep.identical:
        raise NotReproduced(
            f"run {rep.original['run_id']} did not reproduce: see the differing lines above"
        )
    return 0


def report_lines(rep: Reproduction) -> list[str]:
    """The comparison for people: a line per metric and output, the notes, the verdict."""
    width = max([28, *(len(n) for n, *_ in rep.metrics), *(len(o.name) for o in rep.outputs)])
    lines = [f"reproduced {rep.original['run_id']} as {rep.new['run_id']}"]
    for name, a, b, same in rep.metrics:
        lines.append(
            f"  metric {name:<{width}} {a!s:>22} {b!s:>22}  {'same' if same else 'DIFFERS'}"
        )
    for o in rep.outputs:
        verdict = "same" if o.same else "expected to differ" if o.expected_to_differ else "DIFFERS"
        lines.append(
            f"  output {o.name:<{width}} {str(o.original)[:12]:>22} "
            f"{str(o.reproduced)[:12]:>22}  {verdict}"
        )
        if o.expected_to_differ:
            lines.append(f"    why: {o.expected_reason}")
    lines += [f"  note: {note}" for note in rep.notes]
    expected = len(rep.expected_differences)
    if not rep.identical:
        lines.append("not identical")
    elif expected:
        lines.append(
            f"identical, but for {expected} output{'s' if expected > 1 else ''} "
            "expected to differ (see why above)"
        )
    else:
        lines.append("identical")
    return lines
