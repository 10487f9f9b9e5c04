"""Reading the data stage's source into a DataFrame, saying how it was read.

A source is one of:

* ``sklearn:<name>`` — a dataset that ships with scikit-learn (offline);
* a path to a ``.csv`` (also ``.tsv``, ``.txt``) or ``.parquet`` file, relative to the
  workspace root; a CSV's encoding and delimiter are sniffed unless given;
* a dataset version in the store: ``NAME``, ``NAME@VERSION`` or ``dataset:NAME[@VERSION]``
  (what ``nbtrail data add FILE --name NAME`` made).

A CSV's encoding, delimiter and decimal mark come from :mod:`nbtrail.data.csvformat` (the
same sniffing ``nbtrail data add`` uses), unless the parameters give them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, NameRefused, NotFound, ParameterError
from nbtrail.data import csvformat
from nbtrail.data.sourceref import (  # the rules the runner checks before any kernel starts
    CSV_SUFFIXES,
    PARQUET_SUFFIXES,
    SKLEARN_SOURCES,
    classify_source,
)

if TYPE_CHECKING:
    import pandas as pd

    from nbtrail.core.workspace import Workspace
    from nbtrail.data.datasets import DatasetVersion


@dataclass(frozen=True)
class Loaded:
    """A source read into a frame, and how it was read (recorded by the data stage)."""

    frame: pd.DataFrame
    source: str
    kind: str  # sklearn, file or dataset
    format: str  # sklearn, csv or parquet
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    dataset: DatasetVersion | None = None

    def describe(self) -> dict[str, Any]:
        """The facts for the run record: kind, format, encoding, delimiter, dataset version."""
        out: dict[str, Any] = {"source": self.source, "kind": self.kind, "format": self.format}
        if self.format == "csv":
            out.update(encoding=self.encoding, delimiter=self.delimiter, decimal=self.decimal)
        if self.dataset is not None:
            out.update(dataset=self.dataset.ref, digest=self.dataset.digest)
        out.update(rows=len(self.frame), columns=int(self.frame.shape[1]))
        return out

    def line(self) -> str:
        """One line for the notebook: rows, columns and how the source was read."""
        how = [self.format]
        if self.format == "csv":
            how.append(f"{self.encoding}, delimiter {self.delimiter!r}")
            if self.decimal == ",":
                how.append("decimal comma")
        if self.dataset is not None:
            how.append(f"dataset {self.dataset.ref}")
        rows, cols = self.frame.shape
        return f"{rows:,} rows x {cols:,} columns from {self.source} ({'; '.join(how)})"


def snake(name: str) -> str:
    """``"mean radius"`` -> ``"mean_radius"`` (scikit-learn's column names, made identifiers)."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()


def dataset_name_for(source: str) -> str:
    """The name a source's snapshot is versioned under when none is given, so each dataset
    keeps its own versions and champion: ``sklearn:breast_cancer`` -> ``breast_cancer``,
    ``data/My Churn.csv`` -> ``my_churn``, ``dataset:sales@3`` or ``sales@3`` -> ``sales``."""
    if source.startswith("sklearn:"):
        stem = source.removeprefix("sklearn:")
    elif Path(source).suffix.lower() in (".csv", ".parquet", ".pq", ".tsv", ".txt"):
        stem = Path(source).stem
    else:
        stem = source.removeprefix("dataset:").partition("@")[0]
    return snake(stem) or "dataset"


def snapshot_name_for(source: str) -> str:
    """The name the data stage versions its snapshot under when none is given:
    ``<dataset>_snapshot`` (``breast_cancer_snapshot``, ``churn_snapshot``), so the split
    snapshots never share a history with the raw versions ``nbtrail data add`` makes."""
    return f"{dataset_name_for(source)}_snapshot"


def load_source(source: str, root: Path, **options: Any) -> pd.DataFrame:
    """The raw frame named by ``source``; ``options`` are :func:`read_source`'s (which also
    says how the source was read)."""
    return read_source(source, root, **options).frame


def read_source(
    source: str,
    root: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    ws: Workspace | None = None,
) -> Loaded:
    """Read ``source`` (module docstring); a file with no rows raises :class:`DataError`.

    ``delimiter`` and ``encoding`` override the sniffed ones for CSV. ``ws`` is the
    workspace whose store holds dataset versions (default: the one at ``root``).
    """
    kind, what = classify_source(source, root)
    if kind == "sklearn":
        return _sklearn(source)
    if kind == "dataset":
        return _dataset(source, what, root, ws, delimiter, encoding)
    path = Path(what)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"source file not found: {source}", hint="set the data stage's `source`")
    if path.stat().st_size == 0:
        raise DataError(f"source file is empty: {source}")
    if suffix in PARQUET_SUFFIXES:
        return _nonempty(Loaded(read_parquet(path, source), source, "file", "parquet"))
    if suffix in CSV_SUFFIXES:
        frame, enc, sep, dec = read_csv(path, source, delimiter=delimiter, encoding=encoding)
        return _nonempty(Loaded(frame, source, "file", "csv", enc, sep, dec))
    raise DataError(
        f"unsupported source format {path.suffix!r}: {source}",
        hint="use a .csv or .parquet file, or a dataset name",
    )


def _nonempty(loaded: Loaded) -> Loaded:
    if len(loaded.frame) == 0:
        raise DataError(
            f"source {loaded.source} has no rows",
            hint="the data stage needs a header and at least one row",
        )
    return loaded


def _sklearn(source: str) -> Loaded:
    from sklearn import datasets

    name = source.split(":", 1)[1]
    if name not in SKLEARN_SOURCES:
        raise ParameterError(
            f"unknown scikit-learn dataset {name!r}",
            parameter="source",
            hint=f"use one of: {', '.join('sklearn:' + n for n in SKLEARN_SOURCES)}",
        )
    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    frame.columns = [snake(c) for c in frame.columns]
    return Loaded(frame, source, "sklearn", "sklearn")


def _dataset(
    source: str,
    ref: str,
    root: Path,
    ws: Workspace | None,
    delimiter: str | None,
    encoding: str | None,
) -> Loaded:
    """A dataset version from the store, read from its verified object."""
    from nbtrail.core.workspace import Workspace
    from nbtrail.data.datasets import Datasets

    catalog = Datasets(ws or Workspace(root))
    try:
        dv = catalog.get(ref)
    except (NameRefused, NotFound) as exc:
        raise DataError(
            f"source {source!r} is neither a file nor a dataset in the store ({exc.message})",
            hint="a file ends in .csv or .parquet; `nbtrail data list` shows the datasets",
        ) from exc
    path = catalog.path(dv)
    if dv.format == "parquet":
        return _nonempty(
            Loaded(read_parquet(path, source), source, "dataset", "parquet", dataset=dv)
        )
    frame, enc, sep, dec = read_csv(path, source, delimiter=delimiter, encoding=encoding)
    return _nonempty(Loaded(frame, source, "dataset", "csv", enc, sep, dec, dataset=dv))


def read_parquet(path: Path, shown: str) -> pd.DataFrame:
    """A Parquet file (pyarrow) as a DataFrame; unreadable -> :class:`DataError`."""
    import pandas as pd

    try:
        return pd.read_parquet(path, engine="pyarrow")
    except Exception as exc:  # pyarrow raises several error types for a bad file
        raise DataError(f"cannot read {shown}: {csvformat.first_line(exc)}") from exc


def read_csv(
    path: Path,
    shown: str,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> tuple[pd.DataFrame, str, str, str]:
    """A CSV file as a DataFrame with the encoding, delimiter and decimal mark it was read with."""
    fmt = csvformat.sniff(path, delimiter=delimiter, encoding=encoding)
    frame = csvformat.read_csv_frame(path, fmt, shown=shown)
    return frame, fmt.encoding, fmt.delimiter, fmt.decimal
