"""YAML files read with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from nbtrail.core.errors import ConfigError
from nbtrail.core.workspace import Workspace


def load_yaml(path: Path, ws: Workspace | None = None) -> Any:
    """Parse a YAML file; errors name the file and line."""
    shown = ws.relative(path) if ws else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", path=shown) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", path=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", path=shown) from None
    return parse_yaml(text, shown)


def parse_yaml(text: str, shown: str | None = None) -> Any:
    """Parse YAML text; every problem is a :class:`ConfigError` naming ``shown`` and the line
    (PyYAML also raises ValueError for a date such as 2026-02-30, and RecursionError)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", path=shown, line=line) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"malformed YAML: {problem}", path=shown) from None


def refuse_unknown_keys(
    data: dict[Any, Any], allowed: set[str], *, what: str = "", where: str | None = None
) -> None:
    """A :class:`ConfigError` naming the keys of ``data`` outside ``allowed`` (and those)."""
    unknown = set(data) - allowed
    if unknown:
        prefix = f"{what}: " if what else ""
        raise ConfigError(
            f"{prefix}unknown keys {sorted(map(str, unknown))}",
            path=where,
            hint=f"allowed: {', '.join(sorted(allowed))}",
        )
