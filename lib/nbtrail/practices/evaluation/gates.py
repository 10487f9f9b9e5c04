"""Gates: ``min_<metric>`` / ``max_<metric>`` bounds from the parameters, checked on the
point value or the pessimistic end of its interval, and the error that fails the stage."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from nbtrail.core.errors import GateFailed, ParameterError
from nbtrail.practices.evaluation.behavioural import TestResult
from nbtrail.practices.evaluation.intervals import Interval
from nbtrail.practices.evaluation.jsonable import plain
from nbtrail.practices.evaluation.metrics import METRICS_BY_TASK
from nbtrail.practices.tasks import canonical_task


@dataclass(frozen=True)
class GateResult:
    """A gate ``min_<metric>`` (value >= bound) or ``max_<metric>`` (value <= bound)."""

    name: str
    metric: str
    op: str
    value: float
    bound: float
    passed: bool
    on: str = "value"
    quantity: str = ""  # what ``value`` is, in words, when it is not ``metric`` itself
    unmet: str = ""  # a condition besides the bound that failed (the gain was not significant)

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))

    def describe(self) -> str:
        """The gate's outcome in one line: the value, the bound, and why it failed when the
        value alone meets the bound."""
        text = (
            f"{self.quantity or self.metric} = {self.value:.4g}, "
            f"required {self.op} {self.bound:.4g}"
        )
        return f"{text}, but {self.unmet}" if self.unmet else text


def check_gates(
    values: Mapping[str, float],
    gates: Mapping[str, float | None] | None,
    *,
    intervals: Mapping[str, Interval] | None = None,
    on: str = "value",
) -> list[GateResult]:
    """Compare ``values`` with the gates a parameter gives (``None`` turns a gate off).

    ``on="value"`` gates the point estimate; ``on="interval"`` gates the pessimistic end of
    the bootstrap interval (the lower end for ``min_``, the upper end for ``max_``), for
    metrics that have one. A NaN value fails its gate."""
    if on not in ("value", "interval"):
        raise ParameterError(
            f"gate_on must be 'value' or 'interval', got {on!r}", parameter="gate_on"
        )
    results: list[GateResult] = []
    for name, bound in (gates or {}).items():
        if bound is None:
            continue
        prefix, _, metric = name.partition("_")
        if prefix not in ("min", "max") or not metric:
            raise ParameterError(
                f"gate {name!r} must be named min_<metric> or max_<metric>", parameter="gates"
            )
        if metric not in values:
            raise ParameterError(
                f"gate {name!r} refers to metric {metric!r}, which was not computed",
                parameter="gates",
                valid=[f"min_{m}" for m in values] + [f"max_{m}" for m in values],
            )
        source = "value"
        value = float(values[metric])
        if on == "interval" and intervals and metric in intervals:
            iv = intervals[metric]
            value = iv.low if prefix == "min" else iv.high
            source = f"interval_{'low' if prefix == 'min' else 'high'}"
        try:
            bound_f = float(bound)
        except (TypeError, ValueError):
            raise ParameterError(
                f"gate {name!r}: bound {bound!r} is not a number", parameter="gates"
            ) from None
        ok = value >= bound_f if prefix == "min" else value <= bound_f
        results.append(
            GateResult(
                name,
                metric,
                ">=" if prefix == "min" else "<=",
                value,
                bound_f,
                bool(ok and math.isfinite(value)),
                source,
            )
        )
    return results


def gates_for_task(
    gates: Mapping[str, float | None], task: str
) -> tuple[dict[str, float | None], list[str]]:
    """Split gates into those whose metric ``task`` computes and those that do not apply
    (a metric of another task, e.g. ``min_roc_auc`` on a regression or multiclass target);
    gates on other names are kept, so :func:`check_gates` still refuses a misspelt one."""
    own = set(METRICS_BY_TASK[canonical_task(task)])
    other = {m for metrics in METRICS_BY_TASK.values() for m in metrics} - own
    kept: dict[str, float | None] = {}
    skipped: list[str] = []
    for name, bound in gates.items():
        metric = name.partition("_")[2]
        if metric in other:
            skipped.append(name)
        else:
            kept[name] = bound
    return kept, skipped


def raise_for_gates(results: Sequence[GateResult | TestResult]) -> None:
    """Raise :class:`GateFailed` naming the first failed gate (or behavioural test), its
    value and bound; the others that failed are listed after it."""
    failed = [r for r in results if not r.passed]
    if not failed:
        return
    first = failed[0]
    if isinstance(first, GateResult):
        what = f"gate {first.name} failed: {first.describe()}"
    else:
        what = (
            f"behavioural test {first.name} failed: value {first.value:.4g}, "
            f"bound {first.bound:.4g}"
        )
    more = ""
    if len(failed) > 1:
        more = f" (and {len(failed) - 1} more: {', '.join(r.name for r in failed[1:])})"
    raise GateFailed(
        what + more,
        gate=first.name,
        value=first.value,
        bound=first.bound,
        failed=[r.name for r in failed],
    )


def gates_table(results: Sequence[GateResult]) -> pd.DataFrame:
    """A display table: one row per gate."""
    return pd.DataFrame([r.to_dict() for r in results])
