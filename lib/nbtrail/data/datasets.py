"""Dataset versions: small JSON manifests that name an object in the store.

``workspace/data/datasets/<name>/<version>.json`` holds name, version number, content hash,
format, row count, columns and dtypes, source, parent version, creation time and the run
that created it. Versions are immutable and numbered from 1; adding bytes identical to the
latest version returns that version instead of a new one, and identical bytes are stored once
whatever the name.

Adding a file: a stat cache hit (:mod:`nbtrail.statcache`) costs a ``stat`` and no read;
otherwise the file is copied into the store's temp folder while it is hashed and a large CSV's
records are counted (:func:`nbtrail.data.store.copy_hashing`), described (columns, dtypes)
*from that private copy*, and committed. Bad input raises one :class:`DataError` and
writes nothing (see :mod:`nbtrail.data.describe`). CSV files up to ``FULL_PARSE_BYTES`` are parsed completely; larger ones
take their column types from the first block and their row count from a quote-aware scan of
the record separators (the manifest says which in ``extra["described"]``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.errors import DataError, NotFound, disk_full_as_error
from nbtrail.core.workspace import Workspace
from nbtrail.data.csvformat import arrow_options, read_csv_frame, sniff
from nbtrail.data.describe import FULL_PARSE_BYTES, RecordCounter, describe_file
from nbtrail.data.statcache import Description, FileStat, StatCache
from nbtrail.data.store import ObjectStore
from nbtrail.data.versiondiff import ColumnShift, DatasetDiff, column_summary
from nbtrail.data.versions import (
    AddResult,
    DatasetVersion,
    VerifyReport,
    check_name,
    check_same_version,
    parse_ref,
    require_same_schema,
    schema_changes,
)

# what callers import from here keeps working: the version types live in data/versions.py
__all__ = [
    "AddResult",
    "Datasets",
    "DatasetVersion",
    "VerifyReport",
    "check_name",
    "check_same_version",
    "parse_ref",
    "require_same_schema",
    "schema_changes",
]

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}


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
        with disk_full_as_error(self.ws.data_dir, f"dataset {name!r}", dataset=name):
            return self._add(p, name, fmt, st, run_id=run_id, source=source, extra=extra)

    def _add(
        self,
        p: Path,
        name: str,
        fmt: str,
        st: FileStat,
        *,
        run_id: str | None,
        source: str | None,
        extra: dict[str, Any] | None,
    ) -> AddResult:
        cache = StatCache(self.ws)
        digest = cache.lookup(st)
        desc = cache.described(digest) if digest and self.store.exists(digest) else None
        hit = desc is not None and desc.format == fmt
        if desc is None or not hit:
            counter = RecordCounter() if fmt == "csv" and st.size > self.full_parse_bytes else None
            digest, desc = self.store.ingest(
                p,
                lambda tmp: self._checked(tmp, fmt, str(p), counter),
                reader=counter,
            )
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

    def _checked(
        self, tmp: Path, fmt: str, shown: str, counter: RecordCounter | None = None
    ) -> Description:
        # rows counted while the bytes were copied, if all of them went through the counter
        whole = counter is not None and counter.fed == tmp.stat().st_size
        desc = describe_file(
            tmp,
            fmt,
            shown=shown,
            full_parse_bytes=self.full_parse_bytes,
            records=counter.total() if counter is not None and whole else None,
        )
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
        with disk_full_as_error(self.ws.data_dir, f"dataset {name!r}", dataset=name):
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
