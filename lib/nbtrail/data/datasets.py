"""Dataset versions: small JSON manifests that name an object in the store.

``workspace/data/datasets/<name>/<version>.json`` holds name, version number, content hash,
format, row count, columns and dtypes, source, parent version, creation time and the run
that created it. Versions are immutable and numbered from 1; adding bytes identical to the
latest version returns that version instead of a new one, and identical bytes are stored once
whatever the name.

Adding a file: a stat cache hit (:mod:`nbtrail.statcache`) costs a ``stat`` and no read;
otherwise the file is copied into the store's temp folder, described (rows, columns, dtypes)
*from that private copy*, hashed and committed. Bad input raises one :class:`DataError` and
writes nothing (see :mod:`nbtrail.data.describe`). CSV files up to ``FULL_PARSE_BYTES`` are parsed completely; larger ones
take their column types from the first block and their row count from a quote-aware scan of
the record separators (the manifest says which in ``extra["described"]``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.errors import DataError, NameRefused, NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.data.csvformat import arrow_options, read_csv_frame, sniff
from nbtrail.data.describe import FULL_PARSE_BYTES, describe_file
from nbtrail.data.statcache import Description, FileStat, StatCache
from nbtrail.data.store import ObjectStore
from nbtrail.data.versiondiff import ColumnShift, DatasetDiff, column_summary

if TYPE_CHECKING:
    import pandas as pd

MANIFEST_VERSION = 1
MAX_NAME = 100
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


def check_name(name: str, what: str = "dataset name") -> str:
    """Refuse names that could escape a folder or confuse a terminal."""
    ok = (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME
        and _NAME_RE.match(name) is not None
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


class Datasets:
    """The dataset catalog of one workspace."""

    def __init__(self, ws: Workspace, *, full_parse_bytes: int = FULL_PARSE_BYTES) -> None:
        self.ws = ws
        self.root = ws.data_dir / "datasets"
        self.store = ObjectStore(ws.objects_dir)
        self.full_parse_bytes = full_parse_bytes

    # Reading the catalog
    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and any(p.glob("*.json")))

    def versions(self, name: str) -> list[DatasetVersion]:
        check_name(name)
        folder = self.root / name
        if not folder.is_dir():
            return []
        out = []
        for f in folder.glob("*.json"):
            if f.stem.isdigit():
                try:
                    out.append(DatasetVersion.from_dict(json.loads(f.read_text())))
                except (ValueError, TypeError) as exc:
                    raise DataError(f"unreadable dataset manifest {f}: {exc}") from exc
        return sorted(out, key=lambda v: v.version)

    def all_versions(self) -> list[DatasetVersion]:
        return [v for n in self.names() for v in self.versions(n)]

    def get(self, ref: str, version: int | None = None) -> DatasetVersion:
        name, ver = parse_ref(ref)
        ver = version if version is not None else ver
        versions = self.versions(name)
        if not versions:
            raise NotFound(f"no dataset named {name!r}", hint="see `nbtrail data list`")
        if ver is None:
            return versions[-1]
        for v in versions:
            if v.version == ver:
                return v
        raise NotFound(
            f"dataset {name!r} has no version {ver}",
            hint=f"versions: {', '.join(str(v.version) for v in versions)}",
        )

    def summary(self) -> list[dict[str, Any]]:
        """One row per dataset: its latest version, rows, columns, size, creation time."""
        out = []
        for name in self.names():
            vs = self.versions(name)
            last = vs[-1]
            out.append(
                {
                    "name": name,
                    "version": last.version,
                    "versions": len(vs),
                    "rows": last.rows,
                    "columns": len(last.columns),
                    "bytes": last.bytes,
                    "digest": last.digest,
                    "created": last.created,
                }
            )
        return out

    def show(self, ref: str) -> tuple[DatasetVersion, list[str]]:
        """A version and its schema changes from its parent version."""
        dv = self.get(ref)
        parent = self.parent_of(dv)
        return dv, schema_changes(parent, dv) if parent else []

    def _resolve(self, ref: str | DatasetVersion) -> DatasetVersion:
        return ref if isinstance(ref, DatasetVersion) else self.get(ref)

    def path(self, ref: str | DatasetVersion) -> Path:
        """The verified object file of a version (read-only; never copy it to read it)."""
        dv = self._resolve(ref)
        return self.store.open_verified(dv.digest, what=f"dataset {dv.ref}")

    def read_frame(self, ref: str | DatasetVersion) -> pd.DataFrame:
        import pandas as pd

        dv = self._resolve(ref)
        p = self.path(dv)
        if dv.format == "parquet":
            return pd.read_parquet(p)
        return read_csv_frame(p, sniff(p), shown=f"dataset {dv.ref}")

    def _read_table(self, dv: DatasetVersion) -> Any:
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        p = self.path(dv)
        if dv.format == "parquet":
            return pq.read_table(p)
        return pacsv.read_csv(p, **arrow_options(sniff(p)))

    # Writing
    def add_file(self, path: str | os.PathLike[str], name: str, **options: Any) -> DatasetVersion:
        """Version the file at ``path`` under ``name``; identical bytes reuse the latest version
        (``options`` as for :meth:`add`)."""
        return self.add(path, name, **options).version

    def add(
        self,
        path: str | os.PathLike[str],
        name: str,
        *,
        run_id: str | None = None,
        source: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> AddResult:
        """:meth:`add_file`, also saying whether a version was created and what schema changed."""
        check_name(name)
        p = Path(path)
        if not p.exists():
            raise DataError(f"no such file: {p}", path=str(p))
        if not p.is_file():
            raise DataError(f"not a regular file: {p}", path=str(p))
        if not os.access(p, os.R_OK):
            raise DataError(f"cannot read {p}: permission denied", path=str(p))
        fmt = FORMATS.get(p.suffix.lower())
        if fmt is None:
            raise DataError(
                f"{p}: unsupported format {p.suffix!r}", hint="use a .csv or .parquet file"
            )
        st = FileStat.of(p)
        if st.size == 0:
            raise DataError(f"{p} is empty", hint="a dataset needs a header and at least one row")
        cache = StatCache(self.ws)
        digest = cache.lookup(st)
        desc = cache.described(digest) if digest and self.store.exists(digest) else None
        hit = desc is not None and desc.format == fmt
        if desc is None or not hit:
            digest, desc = self.store.ingest(p, lambda tmp: self._checked(tmp, fmt, str(p)))
            assert desc is not None  # ingest ran the check, which describes or raises
            if FileStat.of(p) == st:
                cache.record(st, digest)
            cache.remember_description(digest, desc)
        assert digest is not None
        dv, created = self._record(
            name,
            digest=digest,
            fmt=fmt,
            rows=desc.rows,
            cols=desc.columns,
            dtypes=desc.dtypes,
            source=source if source is not None else str(p.resolve()),
            run_id=run_id,
            nbytes=st.size,
            extra={"described": desc.described, **(extra or {})},
        )
        parent = self.parent_of(dv) if created else None
        return AddResult(dv, created, schema_changes(parent, dv) if parent else [], hit)

    def _checked(self, tmp: Path, fmt: str, shown: str) -> Description:
        desc = describe_file(tmp, fmt, shown=shown, full_parse_bytes=self.full_parse_bytes)
        if desc.rows <= 0:
            raise DataError(f"{shown} has no rows", hint="a dataset needs at least one row")
        return desc

    def add_frame(
        self,
        df: pd.DataFrame,
        name: str,
        *,
        run_id: str | None = None,
        source: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> DatasetVersion:
        """Version a DataFrame as Parquet (written deterministically, so equal frames dedupe)."""
        import io

        import pyarrow as pa
        import pyarrow.parquet as pq

        check_name(name)
        if len(df) == 0:
            raise DataError(f"dataset {name!r}: refusing to version an empty frame")
        table = pa.Table.from_pandas(df, preserve_index=False)
        table = table.replace_schema_metadata(None)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        digest = self.store.put_bytes(buf.getvalue())
        return self._record(
            name,
            digest=digest,
            fmt="parquet",
            rows=len(df),
            cols=list(table.schema.names),
            dtypes={n: str(table.schema.field(n).type) for n in table.schema.names},
            source=source,
            run_id=run_id,
            nbytes=len(buf.getvalue()),
            extra=extra or {},
        )[0]

    def _record(self, name: str, **kw: Any) -> tuple[DatasetVersion, bool]:
        versions = self.versions(name)
        if versions and versions[-1].digest == kw["digest"]:
            return versions[-1], False  # versions only grow: no lock needed to see this
        from filelock import FileLock

        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".lock"), timeout=60):
            versions = self.versions(name)
            latest = versions[-1] if versions else None
            if latest is not None and latest.digest == kw["digest"]:
                return latest, False
            dv = DatasetVersion(
                name=name,
                version=(latest.version + 1) if latest else 1,
                digest=kw["digest"],
                format=kw["fmt"],
                rows=int(kw["rows"]),
                columns=list(kw["cols"]),
                dtypes=dict(kw["dtypes"]),
                source=kw["source"],
                parent=latest.version if latest else None,
                created=datetime.now(UTC).isoformat(timespec="seconds"),
                run_id=kw["run_id"],
                bytes=int(kw["nbytes"]),
                extra=kw["extra"],
            )
            atomic.write_json(folder / f"{dv.version}.json", dv.to_dict())
            return dv, True

    def conflict_free(self, dv: DatasetVersion) -> bool:
        """True when ``dv`` is new here, False when the same version is already here.

        Raises :class:`DataError` when a *different* manifest holds that name and version.
        """
        check_name(dv.name)
        try:
            mine = self.get(dv.name, dv.version)
        except NotFound:
            return True
        check_same_version(dv, mine, where="here", other="the incoming one")
        return False

    def import_version(self, dv: DatasetVersion) -> None:
        """Write a manifest fetched from a remote (its object must already be stored)."""
        if not self.store.exists(dv.digest):
            raise NotFound(f"{dv.ref}: object {dv.digest} is not in the store")
        from filelock import FileLock

        folder = self.root / check_name(dv.name)
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".lock"), timeout=60):
            if self.conflict_free(dv):
                atomic.write_json(folder / f"{dv.version}.json", dv.to_dict())

    # Comparing, checking, checking out
    def parent_of(self, dv: DatasetVersion) -> DatasetVersion | None:
        """The version ``dv`` was added after (None for the first, or when it is not here)."""
        if not dv.parent:
            return None
        try:
            return self.get(dv.name, dv.parent)
        except NotFound:
            return None

    def diff(self, old: str | DatasetVersion, new: str | DatasetVersion) -> DatasetDiff:
        """Schema changes, row counts and per-column summaries of two versions (verified)."""
        a, b = self._resolve(old), self._resolve(new)
        sa, sb = column_summary(self._read_table(a)), column_summary(self._read_table(b))
        shifts = [ColumnShift(c, sa[c], sb[c]) for c in sb if c in sa]
        return DatasetDiff(a, b, schema_changes(a, b), shifts)

    def verify(self) -> VerifyReport:
        """Re-hash every object; name the corrupted or missing ones and the versions using them."""
        users: dict[str, list[str]] = {}
        for dv in self.all_versions():
            users.setdefault(dv.digest, []).append(dv.ref)
        corrupted: dict[str, list[str]] = {}
        checked = 0
        present = set()
        for digest in self.store.iter_digests():
            present.add(digest)
            checked += 1
            if not self.store.verify(digest):
                corrupted[digest] = users.get(digest, [])
        missing = {d: refs for d, refs in users.items() if d not in present}
        unreferenced = sorted(d for d in present if d not in users)
        return VerifyReport(checked, corrupted, missing, unreferenced)

    def checkout(
        self, ref: str | DatasetVersion, dest: str | os.PathLike[str], *, mode: str = "auto"
    ) -> tuple[DatasetVersion, str]:
        """Put version ``ref`` at ``dest`` (reflink, hard link or copy); returns how."""
        dv = self._resolve(ref)
        how = self.store.link_out(dv.digest, dest, mode=mode, what=f"dataset {dv.ref}")
        return dv, how
