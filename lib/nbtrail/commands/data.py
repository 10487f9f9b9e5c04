"""``nbtrail data``: version, list, show, diff, verify, check out, push and pull datasets.

Each handler calls one function of :mod:`nbtrail.datasets` or :mod:`nbtrail.remote` and
prints. The remote of ``push``/``pull`` is ``--remote URL`` when given, otherwise the
``remote:`` key of ``params/pipeline.yaml`` (see :mod:`nbtrail.remote`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nbtrail.commands.options import size, transfer_line, verb
from nbtrail.core.errors import IntegrityError
from nbtrail.core.humanize import human


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser(
        "data",
        help="versioned datasets: add, list, show, diff, verify, checkout, push, pull",
        description="Content-addressed dataset versions in workspace/data.",
    )
    sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    p = verb(sub, "add", _add, help="version a CSV or Parquet file under a name")
    p.add_argument("path", help="the file to add (.csv, .parquet)")
    p.add_argument("--name", "-n", required=True, help="dataset name (letters, digits, . _ -)")
    verb(sub, "list", _list, json="print JSON", help="list datasets and their latest versions")
    p = verb(
        sub,
        "show",
        _show,
        json="print the manifest as JSON",
        help="show one version (default: the latest)",
    )
    p.add_argument("ref", metavar="NAME[@VERSION]")
    p = verb(
        sub,
        "diff",
        _diff,
        json="print JSON",
        help="schema, row count and per-column changes of two versions",
    )
    p.add_argument("old", metavar="NAME@V1")
    p.add_argument("new", metavar="NAME@V2")
    verb(sub, "verify", _verify, help="re-hash every object; exit 5 naming any that changed")
    p = verb(
        sub,
        "checkout",
        _checkout,
        help="put a version at PATH (reflink or hard link where possible)",
        description=(
            "auto: a reflink (copy-on-write) when the filesystem offers one; else a hard link "
            "to the read-only object (not as root, for whom read-only does not stop a write "
            "into the store); else a copy."
        ),
    )
    p.add_argument("ref", metavar="NAME[@VERSION]")
    p.add_argument("path", help="where to put the file")
    p.add_argument(
        "--link",
        choices=["auto", "reflink", "hardlink", "copy"],
        default="auto",
        help="how to materialise the file (default: auto)",
    )

    for name, helptext, func in (
        ("push", "send dataset versions and their objects to the remote", _push),
        ("pull", "fetch dataset versions from the remote, verifying every object", _pull),
    ):
        p = verb(sub, name, func, help=helptext)
        p.add_argument(
            "url",
            nargs="?",
            default=None,
            metavar="URL",
            help="folder or s3://bucket/prefix (default: `remote:` in params/pipeline.yaml)",
        )
        p.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, moto)")
        p.add_argument("--name", action="append", default=[], help="only this dataset (repeatable)")


def _add(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    res = Datasets(ws).add(args.path, args.name)
    dv = res.version
    if res.created:
        print(
            f"added {dv.ref}: {human(dv.rows)} rows x {human(len(dv.columns))} columns, "
            f"{size(dv.bytes)}, object {dv.digest[:12]}"
        )
        for change in res.schema_changes:
            print(f"  schema change from {dv.name}@{dv.parent}: {change}")
    else:
        how = " (stat cache: not re-read)" if res.cached else ""
        print(f"unchanged: {dv.ref} already holds these bytes{how}")
    return 0


def _list(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    rows = Datasets(ws).summary()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("no datasets yet (add one with `nbtrail data add FILE --name NAME`)")
        return 0
    print(f"{'NAME':<24} {'LATEST':>6} {'ROWS':>10} {'COLS':>5} {'SIZE':>10}  CREATED")
    for r in rows:
        print(
            f"{r['name']:<24} {r['version']:>6} {human(r['rows']):>10} {human(r['columns']):>5} "
            f"{size(r['bytes']):>10}  {r['created']}"
        )
    return 0


def _show(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    dv, changes = Datasets(ws).show(args.ref)
    if args.json:
        print(json.dumps({**dv.to_dict(), "schema_changes": changes}, indent=2, sort_keys=True))
        return 0
    print(f"{dv.ref}")
    print(f"  object   {dv.digest}")
    print(f"  format   {dv.format}, {size(dv.bytes)}, {human(dv.rows)} rows")
    print(f"  source   {dv.source}")
    print(f"  created  {dv.created}" + (f" by run {dv.run_id}" if dv.run_id else ""))
    print(f"  parent   {dv.name}@{dv.parent}" if dv.parent else "  parent   (none)")
    print(f"  columns  {len(dv.columns)}")
    for c in dv.columns:
        print(f"    {c}: {dv.dtypes[c]}")
    if dv.parent:
        if changes:
            print(f"  schema changes from {dv.name}@{dv.parent}:")
            for change in changes:
                print(f"    {change}")
        else:
            print(f"  schema unchanged from {dv.name}@{dv.parent}")
    return 0


def _diff(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    d = Datasets(ws).diff(args.old, args.new)
    if args.json:
        print(json.dumps(d.to_dict(), indent=2))
        return 0
    print(f"{d.old.ref} -> {d.new.ref}" + ("  (identical bytes)" if d.same_bytes else ""))
    delta = d.new.rows - d.old.rows
    print(f"rows: {human(d.old.rows)} -> {human(d.new.rows)} ({delta:+,d})")
    if d.schema:
        print("schema changes:")
        for change in d.schema:
            print(f"  {change}")
    else:
        print("schema: unchanged")
    changed = [c for c in d.columns if c.changed]
    print(f"columns with changed summaries: {len(changed)} of {len(d.columns)} shared")
    if changed:
        print(
            f"  {'COLUMN':<24} {'MEAN OLD':>10} {'MEAN NEW':>10} {'SHIFT/SD':>9} "
            f"{'STD OLD':>10} {'STD NEW':>10} {'NULLS':>11} {'DISTINCT':>11}"
        )
        for c in changed:
            nulls = f"{human(c.old['nulls'])}->{human(c.new['nulls'])}"
            distinct = (
                f"{human(c.old.get('distinct'))}->{human(c.new.get('distinct'))}"
                if "distinct" in c.old or "distinct" in c.new
                else "-"
            )
            print(
                f"  {c.column:<24} {human(c.old.get('mean')):>10} {human(c.new.get('mean')):>10} "
                f"{human(c.mean_shift_sd):>9} {human(c.old.get('std')):>10} "
                f"{human(c.new.get('std')):>10} {nulls:>11} {distinct:>11}"
            )
    return 0


def _verify(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    rep = Datasets(ws).verify()
    for digest, refs in sorted(rep.corrupted.items()):
        used = ", ".join(refs) if refs else "no dataset version"
        print(f"CORRUPTED {digest} (used by {used})", file=sys.stderr)
    for digest, refs in sorted(rep.missing.items()):
        print(f"MISSING   {digest} (used by {', '.join(refs)})", file=sys.stderr)
    if not rep.ok:
        raise IntegrityError(
            f"{len(rep.corrupted)} corrupted and {len(rep.missing)} missing object(s) "
            f"out of {rep.checked} checked",
            hint="restore them with `nbtrail data pull` or re-add their sources",
        )
    extra = f", {len(rep.unreferenced)} not used by any version" if rep.unreferenced else ""
    print(f"ok: {rep.checked} object(s) verified{extra}")
    return 0


def _checkout(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.datasets import Datasets

    dv, how = Datasets(ws).checkout(args.ref, args.path, mode=args.link)
    note = ""
    if how == "hardlink":
        note = " (read-only: it shares the store's bytes; use --link copy to edit)"
    elif how == "copy" and args.link == "auto":
        note = " (no reflink here, and a hard link is not write-safe as root)"
    print(f"{dv.ref} -> {args.path} [{how}]{note}")
    return 0


def _push(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.remote import push

    rep = push(ws, args.url, endpoint_url=args.endpoint_url, names=args.name or None)
    print(transfer_line("pushed to", rep, "there"))
    return 0


def _pull(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.data.remote import pull

    rep = pull(ws, args.url, endpoint_url=args.endpoint_url, names=args.name or None)
    print(transfer_line("pulled from", rep, "here"))
    for digest in rep.repaired:
        print(f"  repaired corrupted local object {digest}")
    return 0
