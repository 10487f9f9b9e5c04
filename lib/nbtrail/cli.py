"""The ``nbtrail`` command: argument parsing and the one boundary that turns errors into exits.

Each verb lives in ``nbtrail.commands.<verb>`` with ``register(subparsers)``; the handler it
sets calls one library function and prints. Known errors become one line on stderr and their
own exit code; only unknown errors show a traceback.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from nbtrail.core.errors import NbtrailError

if TYPE_CHECKING:
    import argparse

# Verb modules under nbtrail.commands, in the order `nbtrail --help` lists them.
COMMANDS: tuple[str, ...] = (
    "run",
    "sweep",
    "runs",
    "reproduce",
    "data",
    "registry",
    "export",
    "publish",
    "monitor",
)

# Verbs registered by a module not named after them (tests/test_cli_startup.py checks this
# table against what each module registers): ``nbtrail lineage`` imports commands.runs alone.
VERB_MODULES: dict[str, str] = {
    "show": "runs",
    "diff": "runs",
    "lineage": "runs",
    "impact": "runs",
    "index": "runs",
    "promote": "registry",
}


def _command_named(argv: Sequence[str]) -> str | None:
    """The module of the verb ``argv`` asks for, read without parsing (None: no verb, help,
    or not a known one: then every module is registered, as the parser needs for its message).

    Only the options before the verb are skipped (``-C ROOT``, ``--root=ROOT``, ``-v``), so
    ``nbtrail runs`` registers and imports ``nbtrail.commands.runs`` alone."""
    args = iter(argv)
    for arg in args:
        if arg in ("-C", "--root"):
            next(args, None)
        elif arg.startswith("-"):
            if arg in ("-h", "--help"):
                return None
            continue
        else:
            module = VERB_MODULES.get(arg, arg)
            return module if module in COMMANDS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` one verb's (the same arguments for that verb)."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="nbtrail",
        description="Notebook-first MLOps: run, record, compare and ship notebook pipelines.",
    )
    parser.add_argument(
        "-C",
        "--root",
        default=None,
        help="workspace root (default: the folder holding params/pipeline.yaml above the cwd)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="on a failed stage, print the failing cell's traceback before the one-line error",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in (only,) if only else COMMANDS:
        try:
            module = importlib.import_module(f"nbtrail.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"nbtrail.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def _replayed(argv: list[str]) -> bool:
    """``nbtrail [-C ROOT] run`` whose saved no-op answer still holds, printed before
    argparse, pathlib or the verb's module are even imported (see :mod:`nbtrail.pipeline.noop`;
    any other arguments take the ordinary path, which replays too)."""
    root = None
    if len(argv) == 3 and argv[0] in ("-C", "--root"):
        root, argv = argv[1], argv[2:]
    if argv != ["run"]:
        return False
    from nbtrail.pipeline import noop

    found = noop.find_root(root)
    if found is None:
        return False
    key = noop.invocation_key(found, stage=None, overrides=[], params_file=None)
    hit = noop.replay(noop.workspace_dir(found), key)
    if hit is None:
        return False
    noop.print_answer(hit)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if _replayed(argv):
            return 0
    except BrokenPipeError:
        return 0
    parser = build_parser(_command_named(argv))
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from nbtrail.core.workspace import Workspace

        ws = Workspace.find(args.root)
        code = args.func(args, ws)
    except NbtrailError as exc:
        tb = getattr(exc, "traceback", None)
        if getattr(args, "verbose", False) and tb:
            print(tb, file=sys.stderr)
        print(f"nbtrail: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("nbtrail: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
