"""How two dataset versions differ, column by column (for ``nbtrail data diff``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbtrail.data.datasets import DatasetVersion


def column_summary(table: Any) -> dict[str, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.compute as pc

    out: dict[str, dict[str, Any]] = {}
    for name in table.column_names:
        if name.startswith("__index_level_"):
            continue
        col = table.column(name)
        s: dict[str, Any] = {"nulls": int(col.null_count)}
        t = col.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            num = col.cast(pa.float64()) if not pa.types.is_floating(t) else col
            mm = pc.min_max(num)
            s.update(
                kind="numeric",
                mean=pc.mean(num).as_py(),
                std=pc.stddev(num, ddof=1).as_py(),
                min=mm["min"].as_py(),
                max=mm["max"].as_py(),
            )
        else:
            s.update(kind="other", distinct=int(pc.count_distinct(col).as_py()))
        out[name] = s
    return out


@dataclass(frozen=True)
class ColumnShift:
    column: str
    old: dict[str, Any]
    new: dict[str, Any]

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def mean_shift_sd(self) -> float | None:
        """(new mean - old mean) / old std, for numeric columns."""
        om, nm, sd = self.old.get("mean"), self.new.get("mean"), self.old.get("std")
        if om is None or nm is None or not sd or math.isnan(sd):
            return None
        return (nm - om) / sd


@dataclass(frozen=True)
class DatasetDiff:
    old: DatasetVersion
    new: DatasetVersion
    schema: list[str]
    columns: list[ColumnShift]

    @property
    def same_bytes(self) -> bool:
        return self.old.digest == self.new.digest

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.ref,
            "new": self.new.ref,
            "same_bytes": self.same_bytes,
            "rows": {"old": self.old.rows, "new": self.new.rows},
            "schema": self.schema,
            "columns": [
                {"column": c.column, "old": c.old, "new": c.new, "mean_shift_sd": c.mean_shift_sd}
                for c in self.columns
            ],
        }
