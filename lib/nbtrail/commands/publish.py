"""``nbtrail publish``: the static site of runs, decisions, reports and lineage, or one run as
a single HTML file (``--single RUN -o FILE.html``)."""

from __future__ import annotations

import argparse

from nbtrail.commands.options import size
from nbtrail.core.errors import ParameterError
from nbtrail.core.workspace import Workspace


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "publish",
        help="a static site of runs, decisions, reports and lineage (no server, no internet)",
        description=(
            "Build a self-contained static site (default workspace/site/) from the run index, "
            "the run folders, the registry and the monitoring history. Republishing with "
            "nothing new rewrites nothing. --single RUN -o FILE.html writes one run as one file."
        ),
    )
    p.add_argument("--out", metavar="DIR", help="the site folder (default: workspace/site)")
    p.add_argument(
        "--with-code",
        action="store_true",
        help="show the notebooks' code cells (hidden by default)",
    )
    for flag, meta, text in (
        ("--stage", "S", "only runs of stage S (repeat)"),
        ("--run", "RUN", "include this run and compare every pair of the runs named (repeat)"),
    ):
        p.add_argument(flag, action="append", default=[], metavar=meta, help=text)
    p.add_argument("--single", metavar="RUN", help="write only this run, as one HTML file (-o)")
    p.add_argument("-o", "--output", metavar="FILE.html", help="the file --single writes")
    p.set_defaults(func=handle)


def handle(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail import site

    if args.single:
        if not args.output:
            raise ParameterError("--single RUN needs -o FILE.html", parameter="o")
        one = site.publish_single(ws, args.single, args.output, with_code=args.with_code)
        print(
            f"wrote {one.path} ({size(one.bytes)}, run {one.run_id}, "
            f"{one.reports} report(s) embedded) in {one.seconds:.1f}s"
        )
        return 0
    if args.output:
        raise ParameterError("-o is for --single; the site folder is --out DIR", parameter="o")
    rep = site.publish(
        ws, args.out, with_code=args.with_code, stages=tuple(args.stage), runs=tuple(args.run)
    )
    if rep.nothing_new:
        print(f"site up to date: nothing new since the last publish ({rep.seconds:.2f}s)")
    else:
        print(
            f"published {rep.runs} run(s) in {rep.seconds:.1f}s: {len(rep.rendered_runs)} run "
            f"page(s) rendered, {len(rep.written)} file(s) written, {rep.unchanged} unchanged, "
            f"{len(rep.removed)} removed; {size(rep.size())}"
        )
    for name in rep.missing_bundles:
        print(f"warning: Evidently bundle {name} not found; reports that load it will not draw")
    print(f"site: {rep.index}")
    return 0
