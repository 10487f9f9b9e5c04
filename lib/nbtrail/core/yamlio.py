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
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("file not found", path=shown) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", path=shown, line=line) from None


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
