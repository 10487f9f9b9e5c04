"""A dataset version and its name: the manifest's fields, ``NAME@VERSION`` references,
the names the store accepts, and how two versions' schemas differ."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from nbtrail.core.errors import DataError, NameRefused

MANIFEST_VERSION = 1
MAX_NAME = 100
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")  # fullmatch: "$" lets a final newline in


def check_name(name: str, what: str = "dataset name") -> str:
    """Refuse names that could escape a folder or confuse a terminal."""
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME
        and _NAME_RE.fullmatch(name) is not None
        and ".." not in name
    )
    if not ok:
        text = str(name)
        shown = repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} chars)"
        raise NameRefused(
            f"{what} {shown} refused",
            hint=f"use 1-{MAX_NAME} letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'",
            name=text[:200],
        )
    return name


@dataclass(frozen=True)
class DatasetVersion:
    name: str
    version: int
    digest: str
    format: str
    rows: int
    columns: list[str]
    dtypes: dict[str, str]
    source: str | None
    parent: int | None
    created: str
    run_id: str | None = None
    bytes: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["manifest_version"] = MANIFEST_VERSION
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetVersion:
        d = {k: v for k, v in d.items() if k != "manifest_version"}
        return cls(**d)


def parse_ref(ref: str) -> tuple[str, int | None]:
    """``name`` or ``name@version`` -> (name, version or None for latest)."""
    name, sep, ver = ref.partition("@")
    check_name(name)
    if not sep:
        return name, None
    if not ver.isdigit() or int(ver) < 1:
        raise DataError(f"bad dataset version in {ref!r}", hint="write NAME@N with N >= 1")
    return name, int(ver)


def schema_changes(old: DatasetVersion, new: DatasetVersion) -> list[str]:
    """Human-readable schema differences from ``old`` to ``new`` (empty when the same)."""
    out: list[str] = []
    added = [c for c in new.columns if c not in old.dtypes]
    removed = [c for c in old.columns if c not in new.dtypes]
    for c in added:
        out.append(f"added column {c!r} ({new.dtypes.get(c, '?')})")
    for c in removed:
        out.append(f"removed column {c!r} ({old.dtypes.get(c, '?')})")
    for c in new.columns:
        if c in old.dtypes and old.dtypes[c] != new.dtypes[c]:
            out.append(f"column {c!r} changed type: {old.dtypes[c]} -> {new.dtypes[c]}")
    kept_old = [c for c in old.columns if c in new.dtypes]
    kept_new = [c for c in new.columns if c in old.dtypes]
    if kept_old != kept_new:
        out.append("columns reordered")
    return out


def require_same_schema(old: DatasetVersion, new: DatasetVersion) -> None:
    """Raise :class:`DataError` listing the changes when ``new``'s schema differs from ``old``'s.

    For stages whose parameters say the schema is fixed (``fixed_schema=True``).
    """
    changes = schema_changes(old, new)
    if changes:
        raise DataError(
            f"schema of dataset {new.name!r} changed from {old.ref} to {new.ref}: "
            + "; ".join(changes),
            hint="set fixed_schema=False to accept it, or fix the input file",
            old=old.ref,
            new=new.ref,
            changes=changes,
        )


@dataclass(frozen=True)
class AddResult:
    version: DatasetVersion
    created: bool  # False: the latest version already held these bytes
    schema_changes: list[str]  # from the parent version, when one was created
    cached: bool  # the stat cache knew the file: nothing was read


# Verification
@dataclass(frozen=True)
class VerifyReport:
    checked: int
    corrupted: dict[str, list[str]]  # digest -> dataset versions using it
    missing: dict[str, list[str]]  # digest named by a manifest but absent
    unreferenced: list[str]

    @property
    def ok(self) -> bool:
        return not self.corrupted and not self.missing


def check_same_version(
    dv: DatasetVersion, found: DatasetVersion, *, where: str, other: str
) -> None:
    """Raise :class:`DataError` when two manifests of one ``name@version`` name different
    objects: the histories diverged, and neither side may overwrite the other."""
    if found.digest != dv.digest:
        raise DataError(
            f"{dv.ref} {where} (object {found.digest[:12]}) differs from {other} "
            f"(object {dv.digest[:12]})",
            hint="the histories diverged: add one of them under a new name",
            ref=dv.ref,
        )
