"""The data stage's practices: reading a source, preparing its columns, checking it, splitting it.

``reading``: CSV (encoding and delimiter sniffed or given), Parquet, scikit-learn datasets and
dataset versions from the store. ``columns``: datetimes parsed, free text refused, row-index and
id-like columns dropped with their reasons, all-null columns refused, missing values counted.
``expectations``: the checks recorded as verdicts. ``split``: train / holdout / reference, at
random or by the calendar.
"""

from nbtrail.practices.sources.columns import Prepared, prepare_columns
from nbtrail.practices.sources.expectations import Expectations
from nbtrail.practices.sources.reading import (
    SKLEARN_SOURCES,
    Loaded,
    dataset_name_for,
    load_source,
    read_source,
    snake,
    snapshot_name_for,
)
from nbtrail.practices.sources.split import SPLIT_COLUMN, SPLIT_METHODS, part, split

__all__ = [
    "snapshot_name_for",
    "dataset_name_for",
    "SKLEARN_SOURCES",
    "SPLIT_COLUMN",
    "SPLIT_METHODS",
    "Expectations",
    "Loaded",
    "Prepared",
    "load_source",
    "part",
    "prepare_columns",
    "read_source",
    "snake",
    "split",
]
