"""``nbtrail registry list|history`` and the top-level ``nbtrail promote NAME@V --alias A``."""

from __future__ import annotations

import argparse

from nbtrail.core.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("registry", help="model versions, aliases and alias history")
    sub = p.add_subparsers(dest="registry_command", metavar="SUBCOMMAND", required=True)

    ls = sub.add_parser("list", help="registered model versions and their aliases")
    ls.add_argument("name", nargs="?", default=None, help="only this model")
    ls.set_defaults(func=_list)

    hist = sub.add_parser("history", help="every alias move of a model (append-only)")
    hist.add_argument("name")
    hist.add_argument(
        "--at",
        default=None,
        metavar="DATE",
        help="also show which version held each alias then (YYYY-MM-DD = end of that day, UTC)",
    )
    hist.set_defaults(func=_history)

    pr = subparsers.add_parser(
        "promote", help="point an alias (champion, production...) at a version"
    )
    pr.add_argument("ref", metavar="NAME@VERSION", help="e.g. model@3 (or model@challenger)")
    pr.add_argument("--alias", required=True, help="alias to move, e.g. champion")
    pr.add_argument("--reason", default="", help="why (kept in the history)")
    pr.set_defaults(func=_promote)


def _list(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.practices import registry

    rows = registry.list_versions(ws, args.name)
    if not rows:
        print("no registered models")
        return 0
    print(f"{'MODEL':<20} {'VER':>4} {'VERDICT':<8} {'ALIASES':<24} {'RUN':<34} DIGEST")
    for r in rows:
        print(
            f"{r['name']:<20} {r['version']:>4} {r['verdict']:<8} "
            f"{','.join(r['aliases']) or '-':<24} {r['run_id'] or '-':<34} {r['digest'][:12]}"
        )
    return 0


def _history(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.practices import registry

    h = registry.history(ws, args.name, at=args.at)
    if not h["events"]:
        print(f"{args.name}: no alias has been assigned" + (f" by {h['at']}" if h["at"] else ""))
        return 0
    print(f"{'WHEN (UTC)':<32} {'ALIAS':<14} {'FROM':>4} -> {'TO':<4} REASON")
    for e in h["events"]:
        frm = "-" if e["from_version"] is None else str(e["from_version"])
        print(f"{e['at']:<32} {e['alias']:<14} {frm:>4} -> {e['to_version']:<4} {e['reason']}")
    if h["at"]:
        print(f"\nat {h['at']}:")
        for alias, version in sorted(h["held"].items()):
            print(f"  {alias} = {args.name}@{version}")
    return 0


def _promote(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.practices import registry

    entry = registry.resolve(ws, args.ref)
    event = registry.promote(ws, entry["name"], entry["version"], args.alias, args.reason)
    ref = f"{event['name']}@{event['to_version']}"
    if not event["moved"]:
        print(f"{event['alias']} already points at {ref}; nothing changed")
    else:
        frm = "(unset)" if event["from_version"] is None else f"@{event['from_version']}"
        print(f"{event['alias']}: {event['name']}{frm} -> {ref} at {event['at']}")
    return 0
