"""``nbtrail export NAME@V|ALIAS DIR``: copy a version's verified bundle to a folder."""

from __future__ import annotations

import argparse

from nbtrail.core.workspace import Workspace


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="copy a model version's verified deployment bundle to a folder"
    )
    p.add_argument("ref", metavar="NAME@VERSION|ALIAS", help="e.g. model@champion or model@3")
    p.add_argument("dest", metavar="DIR", help="a new or empty folder")
    p.set_defaults(func=_export)


def _export(args: argparse.Namespace, ws: Workspace) -> int:
    from nbtrail.practices import export

    bundle = export.export_version(ws, args.ref, args.dest)
    meta = bundle.meta
    print(
        f"exported {meta.get('name')}@{meta.get('version')} to {bundle.path} "
        f"({len(bundle.files) + 1} files, manifest sha256 {bundle.digest})"
    )
    print(f"load it: python {bundle.path / 'load_bundle.py'}")
    return 0
