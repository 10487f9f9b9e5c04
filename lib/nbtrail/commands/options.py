"""What several verbs share: declaring a verb with its ``--json`` flag, the graph output
formats, and sizes and transfer reports as people read them."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def verb(
    sub: argparse._SubParsersAction,
    name: str,
    func: Callable[..., int],
    *,
    json: str | None = None,
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """A sub-command calling ``func``; ``json`` is the help of its ``--json`` flag, if any."""
    p = sub.add_parser(name, **parser_options)
    if json:
        p.add_argument("--json", action="store_true", help=json)
    p.set_defaults(func=func)
    return p


def graph_formats(p: argparse.ArgumentParser) -> None:
    """``--json`` or ``--dot`` (one of them) for a verb that prints a graph."""
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the graph as JSON")
    fmt.add_argument("--dot", action="store_true", help="print Graphviz DOT")


def size(n: int) -> str:
    """A byte count as people read it: ``512 B``, ``1.5 MB``."""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def transfer_line(done: str, rep: Any, there: str) -> str:
    """``pushed to URL: 3 object(s) (1.2 MB) and 2 manifest(s); already there: ...``."""
    return (
        f"{done} {rep.url}: {rep.objects_sent} object(s) ({size(rep.bytes_sent)}) and "
        f"{rep.manifests_sent} manifest(s); already {there}: {rep.objects_present} object(s), "
        f"{rep.manifests_present} manifest(s)"
    )
