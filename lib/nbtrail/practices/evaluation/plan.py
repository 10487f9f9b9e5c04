"""The evaluation plan checked up front: every column and spec the slice and behavioural
parameters name, before anything is computed or recorded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation.behavioural import directional_class, missing_keys, suite_spec
from nbtrail.practices.evaluation.slices import normalise_slices, slice_labels
from nbtrail.practices.evaluation.targets import require_columns


def validate_plan(
    frame: pd.DataFrame,
    *,
    slices: Mapping[str, Any] | Sequence[str] | None = None,
    behavioural: Mapping[str, Any] | None = None,
    classes: Sequence[Any] | None = None,
) -> None:
    """Check every column and spec the parameters name before anything is computed or
    recorded, so bad input fails with nothing recorded as passed. ``classes`` are a
    multiclass model's (its directional tests must each name one of them)."""
    spec = normalise_slices(slices)
    require_columns(frame, spec.keys(), "slices")
    for column, sp in spec.items():
        slice_labels(frame, column, sp)
    b = suite_spec(behavioural)
    for i, item in enumerate(b.get("invariance") or []):
        cols = item.get("columns") if isinstance(item, Mapping) else None
        if not cols:
            raise missing_keys("invariance", i)
        require_columns(frame, [cols] if isinstance(cols, str) else cols, "behavioural.invariance")
    for i, item in enumerate(b.get("directional") or []):
        if not isinstance(item, Mapping) or "column" not in item or "direction" not in item:
            raise missing_keys("directional", i)
        require_columns(frame, [item["column"]], "behavioural.directional")
        where = f"behavioural.directional[{i}]"
        if directional_class(item.get("class"), classes, where) is None and classes is not None:
            raise ParameterError(
                f"{where}: a multiclass model has one probability per class; name the class "
                f"whose probability should move (class: one of {', '.join(map(str, classes))})",
                parameter="behavioural",
            )
