"""Behavioural tests of a model, each named and pass/fail: invariance to small shifts,
directional expectations, the minimum performance per slice, and a suite from a parameter.

What moves, per task: the positive-class probability (binary), the prediction
(regression); for a multiclass model, whose scores are one probability per class,
**invariance** bounds the largest change of *any* class's probability (a model whose
predicted class is stable but whose other probabilities swing is not invariant), and a
**directional** test names the class whose probability should move (``class: ...``), since
"the score rises" means nothing across several classes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import ParameterError
from nbtrail.practices.evaluation.jsonable import plain
from nbtrail.practices.evaluation.metrics import higher_is_better
from nbtrail.practices.evaluation.slices import SliceReport
from nbtrail.practices.evaluation.targets import require_columns
from nbtrail.practices.tasks import canonical_task, class_index
from nbtrail.practices.tasks import positive_class as positive_class_of

# The kinds of test a behavioural parameter may hold, and the keys each item needs.
_DIRECTIONAL_KEYS = frozenset({"delta", "max_violation_rate", "tolerance", "name", "class"})
_NEEDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"invariance": ("columns",), "directional": ("column", "direction")}
)
_SUITE_KEYS = frozenset(_NEEDS)


@dataclass(frozen=True)
class TestResult:
    """One named behavioural test: ``value`` compared with ``bound``."""

    __test__ = False  # not a pytest class

    name: str
    kind: str
    passed: bool
    value: float
    bound: float
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def judged(
        cls, name: str, kind: str, passed: Any, value: float, bound: float, **details: Any
    ) -> TestResult:
        """The result with ``passed`` as a bool, ``bound`` as a float and the keyword
        ``details`` (in their order)."""
        return cls(name, kind, bool(passed), value, float(bound), details)

    def to_dict(self) -> dict[str, Any]:
        return plain(asdict(self))


def score_function(
    model: Any,
    task: str = "binary",
    columns: Sequence[str] | None = None,
    positive_class: Any = None,
) -> Callable[[pd.DataFrame], Any]:
    """``frame -> scores``: the probability of the positive class (binary: the
    ``predict_proba`` column of ``positive_class``, default the last of the sorted
    classes), every class's probability (multiclass, columns in ``model.classes_`` order),
    or the regression prediction.

    The frame may hold more columns than the model takes: ``columns`` (default the model's
    ``feature_names_in_``) are selected first, so behavioural tests can perturb any column
    of the data and see whether the model responds."""
    cols = list(columns) if columns is not None else getattr(model, "feature_names_in_", None)
    kind = canonical_task(task)

    def select(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[list(cols)] if cols is not None else frame

    if kind == "binary":
        classes = list(model.classes_)
        at = class_index(
            classes, positive_class_of(classes, positive_class), parameter="positive_class"
        )
        return lambda frame: np.asarray(model.predict_proba(select(frame)))[:, at]
    if kind == "multiclass":
        return lambda frame: np.asarray(model.predict_proba(select(frame)), dtype=np.float64)
    return lambda frame: np.asarray(model.predict(select(frame)), dtype=np.float64)


def _column_step(frame: pd.DataFrame, column: str, delta: float) -> float:
    col = frame[column]
    if not pd.api.types.is_numeric_dtype(col):
        raise ParameterError(
            f"behavioural tests perturb numeric columns; {column!r} is {col.dtype}",
            parameter="behavioural",
        )
    sd = float(col.std(ddof=0))
    return delta * (sd if sd > 0 else 1.0)


def invariance_test(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    delta: float = 0.01,
    tolerance: float = 0.05,
    name: str | None = None,
    parameter: str = "invariance",
) -> TestResult:
    """Shift each named column by ``±delta`` standard deviations (all at once): the score of
    every row may change by at most ``tolerance``. ``value`` is the largest change (with
    class probabilities, the largest change of any class's probability)."""
    columns = [columns] if isinstance(columns, str) else list(columns)
    require_columns(frame, columns, parameter)
    base = np.asarray(predict(frame), dtype=np.float64)
    worst = np.zeros(len(frame))
    for sign in (1.0, -1.0):
        moved = frame.copy()
        for c in columns:
            moved[c] = moved[c] + sign * _column_step(frame, c, delta)
        change = np.abs(np.asarray(predict(moved), dtype=np.float64) - base)
        worst = np.maximum(worst, change.max(axis=1) if change.ndim == 2 else change)
    value = float(worst.max()) if len(worst) else 0.0
    return TestResult.judged(
        name or f"invariance[{','.join(columns)}]",
        "invariance",
        value <= tolerance,
        value,
        tolerance,
        columns=columns,
        delta_sd=delta,
        mean_change=float(worst.mean()),
        rows_over_tolerance=int((worst > tolerance).sum()),
        n=len(frame),
    )


def directional_test(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    column: str,
    direction: str,
    *,
    delta: float = 1.0,
    max_violation_rate: float = 0.05,
    tolerance: float = 0.01,
    name: str | None = None,
    parameter: str = "directional",
    column_of_scores: int | None = None,
) -> TestResult:
    """Raise ``column`` by ``delta`` standard deviations: the score should move the stated way
    (``"increase"`` or ``"decrease"``). ``value`` is the share of rows that moved the other way
    by more than ``tolerance`` (tree ensembles wobble by ~1e-4 on saturated scores; that is not
    a reversal); it passes when that share is at most ``max_violation_rate`` and the mean
    change has the stated sign. When ``predict`` gives class probabilities,
    ``column_of_scores`` is the class whose probability is followed."""
    if direction not in ("increase", "decrease"):
        raise ParameterError(
            f"{parameter}[{column!r}]: direction must be 'increase' or 'decrease', "
            f"got {direction!r}",
            parameter=parameter,
        )
    require_columns(frame, [column], parameter)

    def followed(rows: pd.DataFrame) -> np.ndarray:
        out = np.asarray(predict(rows), dtype=np.float64)
        if out.ndim == 2:
            if column_of_scores is None:
                raise ParameterError(
                    f"{parameter}[{column!r}]: a multiclass model has one probability per "
                    "class; name the class whose probability should move (class: ...)",
                    parameter=parameter,
                )
            return np.asarray(out[:, column_of_scores])
        return out

    base = followed(frame)
    moved = frame.copy()
    moved[column] = moved[column] + _column_step(frame, column, delta)
    change = followed(moved) - base
    sign = 1.0 if direction == "increase" else -1.0
    violations = (sign * change) < -tolerance
    rate = float(violations.mean()) if len(change) else 0.0
    mean_change = float(change.mean()) if len(change) else 0.0
    passed = rate <= max_violation_rate and sign * mean_change > 0
    largest_reversal = float(max(0.0, (-sign * change).max())) if len(change) else 0.0
    return TestResult.judged(
        name or f"directional[{column}:{direction}]",
        "directional",
        passed,
        rate,
        max_violation_rate,
        column=column,
        direction=direction,
        delta_sd=delta,
        mean_change=mean_change,
        violations=int(violations.sum()),
        tolerance=tolerance,
        largest_reversal=largest_reversal,
        n=len(change),
    )


def min_slice_performance_test(report: SliceReport, bound: float) -> list[TestResult]:
    """One test per slice column: its worst eligible slice must reach ``bound`` on the
    report's metric (at most ``bound`` for lower-is-better metrics)."""
    out: list[TestResult] = []
    hib = higher_is_better(report.metric)
    for column, group in report.table.groupby("column", sort=False):
        eligible = group[group["eligible"]]
        if len(eligible):
            pos = eligible[report.metric].idxmin() if hib else eligible[report.metric].idxmax()
            value = float(eligible.loc[pos, report.metric])
            worst_slice = str(eligible.loc[pos, "slice"])
            passed = value >= bound if hib else value <= bound
        else:
            value, worst_slice, passed = float("nan"), None, False
        out.append(
            TestResult.judged(
                f"min_slice_{report.metric}[{column}]",
                "min_slice_performance",
                passed,
                value,
                bound,
                column=column,
                worst_slice=worst_slice,
                slices_checked=len(eligible),
                min_rows=report.min_rows,
            )
        )
    return out


def suite_spec(spec: Mapping[str, Any] | None) -> dict[str, Any]:
    """The behavioural parameter as a dict; kinds other than invariance and directional are
    refused."""
    spec = dict(spec or {})
    _refuse_unknown(spec, _SUITE_KEYS, "behavioural tests: unknown kind(s)")
    return spec


def _refuse_unknown(keys: Iterable[str], allowed: Iterable[str], what: str) -> None:
    extra = set(keys) - set(allowed)
    if extra:
        raise ParameterError(
            f"{what} {sorted(extra)}", parameter="behavioural", valid=sorted(allowed)
        )


def missing_keys(kind: str, index: int) -> ParameterError:
    """The error for item ``index`` of ``kind`` lacking the keys that kind needs."""
    needs = " and ".join(map(repr, _NEEDS[kind]))
    return ParameterError(f"behavioural.{kind}[{index}] needs {needs}", parameter="behavioural")


def behavioural_suite(
    predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    spec: Mapping[str, Any] | None,
    *,
    classes: Sequence[Any] | None = None,
) -> list[TestResult]:
    """Run the tests a parameter describes, e.g.::

    {"invariance": [{"columns": ["mean_texture"], "delta": 0.01, "tolerance": 0.05}],
     "directional": [{"column": "worst_radius", "direction": "decrease", "delta": 1.0,
                      "max_violation_rate": 0.05}]}

    For a multiclass model (``predict`` gives the probabilities of ``classes``) each
    directional item names its class: ``{"column": ..., "direction": ..., "class": ...}``.
    """
    spec = suite_spec(spec)
    results: list[TestResult] = []
    for i, item in enumerate(spec.get("invariance") or []):
        item = dict(item)
        if "columns" not in item:
            raise missing_keys("invariance", i)
        results.append(
            invariance_test(
                predict,
                frame,
                item.pop("columns"),
                parameter="behavioural.invariance",
                **_known(item, {"delta", "tolerance", "name"}, f"behavioural.invariance[{i}]"),
            )
        )
    for i, item in enumerate(spec.get("directional") or []):
        item = dict(item)
        if "column" not in item or "direction" not in item:
            raise missing_keys("directional", i)
        where = f"behavioural.directional[{i}]"
        column, direction = item.pop("column"), item.pop("direction")
        options = _known(item, set(_DIRECTIONAL_KEYS), where)
        followed = directional_class(options.pop("class", None), classes, where)
        results.append(
            directional_test(
                predict,
                frame,
                column,
                direction,
                parameter="behavioural.directional",
                column_of_scores=followed,
                **options,
            )
        )
    return results


def directional_class(wanted: Any, classes: Sequence[Any] | None, where: str) -> int | None:
    """The column of the class a directional item follows: refused on a model without
    class probabilities, and required (by :func:`directional_test`) on one with them."""
    if wanted is None:
        return None
    if classes is None:
        raise ParameterError(
            f"{where}: 'class' applies to multiclass models only (a binary model's score is "
            "the positive-class probability; choose that class with positive_class)",
            parameter="behavioural",
        )
    return class_index(classes, wanted, parameter="behavioural")


def _known(item: Mapping[str, Any], allowed: set[str], where: str) -> dict[str, Any]:
    _refuse_unknown(item, allowed, f"{where}: unknown key(s)")
    return dict(item)


def tests_table(results: Sequence[TestResult]) -> pd.DataFrame:
    """A display table: one row per test with its kind, pass/fail, value and bound."""
    return pd.DataFrame(
        [
            {"test": r.name, "kind": r.kind, "passed": r.passed, "value": r.value, "bound": r.bound}
            for r in results
        ]
    )
