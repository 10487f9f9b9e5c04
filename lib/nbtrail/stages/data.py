"""The data stage's story, one call per notebook cell: read the source, prepare its columns,
check expectations, and write the versioned snapshot, each recording what it found."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbtrail.data.datasets import Datasets
from nbtrail.data.versions import DatasetVersion, require_same_schema, schema_changes
from nbtrail.notebook.run import Run
from nbtrail.practices.sources import Expectations, Loaded, Prepared, prepare_columns, read_source

if TYPE_CHECKING:
    import pandas as pd


def load(run: Run, source: str, *, delimiter: str | None, encoding: str | None) -> Loaded:
    """Read ``source``; record how (``extra["source"]``) and, for a dataset version, the input."""
    loaded = read_source(source, run.ws.root, delimiter=delimiter, encoding=encoding, ws=run.ws)
    if loaded.dataset is not None:
        run.note_dataset_input(loaded.dataset)
    run.note("source", loaded.describe())
    return loaded


def prepare(
    run: Run,
    raw: pd.DataFrame,
    *,
    target: str,
    id_column: str | None,
    time_column: str | None,
    drop_columns: list[str],
) -> Prepared:
    """:func:`~nbtrail.practices.sources.prepare_columns`, recording the dropped columns with
    their reasons, the datetime columns and the missing values per column in the record."""
    prepared = prepare_columns(
        raw,
        target=target,
        id_column=id_column,
        time_column=time_column,
        drop_columns=drop_columns,
    )
    run.note("dropped_columns", prepared.dropped)
    run.note("datetime_columns", prepared.datetimes)
    run.note("missing_values", prepared.missing)
    return prepared


def check(run: Run, frame: pd.DataFrame, expectations: Expectations) -> pd.DataFrame:
    """Run the expectations (a fatal one raises) and record each as a ``data_*`` verdict."""
    import pandas as pd

    checks = pd.DataFrame(expectations.check(frame))
    for row in checks.itertuples():
        run.verdict(f"data_{row.name}", passed=row.passed, detail=row.detail)
    return checks


def save_snapshot(
    run: Run, snapshot: pd.DataFrame, *, dataset_name: str, fixed_schema: bool
) -> tuple[DatasetVersion, list[str]]:
    """Version the snapshot as ``dataset_name`` and record whether its schema changed from the
    previous version (the ``schema_unchanged`` verdict); with ``fixed_schema`` a change raises
    :class:`~nbtrail.core.errors.DataError` listing it. Returns the version and the changes."""
    catalog = Datasets(run.ws)
    versions = catalog.versions(dataset_name)
    previous = versions[-1] if versions else None
    current = catalog.get(run.save_dataset("snapshot", snapshot, dataset=dataset_name))
    changes = schema_changes(previous, current) if previous is not None else []
    run.verdict(
        "schema_unchanged",
        passed=not changes,
        previous=previous.ref if previous else None,
        changes=changes,
    )
    if changes and fixed_schema:
        assert previous is not None
        require_same_schema(previous, current)  # raises DataError listing the changes
    return current, changes
