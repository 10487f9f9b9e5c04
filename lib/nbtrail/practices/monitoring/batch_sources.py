"""Where the monitor stage's batches come from: datasets in the store, CSV/Parquet files, folders."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nbtrail.core.errors import DataError
from nbtrail.data.sourceref import BATCH_SUFFIXES, batch_items

__all__ = ["BATCH_SUFFIXES", "batch_items", "batch_sources", "read_batch_file"]


def batch_sources(spec: str, root: Path) -> list[tuple[str, str, str]]:
    """Parse the monitor stage's ``batch`` parameter into ``(name, kind, where)`` triples.

    ``spec`` is a comma-separated list; each item is a CSV/Parquet file or a folder of them
    (relative to ``root``; kind ``file``, name the file stem), or a dataset ``NAME[@VERSION]``
    in the store (kind ``dataset``, name the item).
    """
    out: list[tuple[str, str, str]] = []
    for item, kind, path in batch_items(spec, root):  # the rules the runner checks up front
        if kind == "folder":
            files = sorted(p for p in path.iterdir() if p.suffix.lower() in BATCH_SUFFIXES)
            if not files:
                raise DataError(f"no .csv or .parquet batch files in {item}")
            out += [(p.stem, "file", str(p)) for p in files]
        elif kind == "file":
            if not path.is_file():
                raise DataError(f"batch file {item} does not exist")
            out.append((path.stem, "file", str(path)))
        else:
            out.append((item, "dataset", item))
    if not out:
        raise DataError("no batch given", hint="set monitor.batch to a dataset, file or folder")
    return out


def read_batch_file(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet batch file as a DataFrame (unreadable -> DataError)."""
    p = Path(path)
    try:
        if p.suffix.lower() == ".csv":
            return pd.read_csv(p)
        return pd.read_parquet(p)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read batch {p}: {exc}".splitlines()[0]) from exc
