"""The task a target is, decided in one place for the train and evaluate stages.

- **binary**: two classes, any label values (strings such as ``"yes"``/``"no"``, booleans,
  integers); one class is the *positive* class whose probability is the score;
- **multiclass**: more than two classes; the scores are one probability per class;
- **regression**: a numeric target with many distinct values.

The rule: a non-numeric or boolean target is a classification target; so is a numeric
target whose values are all integers and few (at most :data:`MAX_CLASSES` distinct); any
other numeric target is a regression target. Two classes make it binary, more make it
multiclass. The train stage records the task it decided in its ``features`` output and the
evaluate stage reads it from there, so both stages agree on the same rows.

``"classification"`` is accepted where a task is passed (the name this package used before
it told binary from multiclass) and means ``"binary"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, ParameterError

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
# A numeric target with at most this many distinct integer values is a class label.
MAX_CLASSES = 20
_ALIASES = {"classification": "binary"}
# The words YAML 1.1 reads as booleans (a -p value "no" arrives as False).
_YAML_BOOL = {True: ("yes", "y", "true", "on"), False: ("no", "n", "false", "off")}


def task_of(y: Sequence[Any] | np.ndarray | pd.Series, *, max_classes: int = MAX_CLASSES) -> str:
    """``"binary"``, ``"multiclass"`` or ``"regression"`` for the target ``y`` (see the
    module docstring for the rule). A target with missing values or a single value is
    refused with a :class:`DataError`."""
    s = y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))
    if s.isna().any():
        raise DataError("the target has missing values", hint="drop or fill them first")
    n_unique = int(s.nunique())
    if n_unique < 2:
        raise DataError(
            f"the target has {n_unique} distinct value(s): nothing to learn",
            hint="choose another target column",
            n_unique=n_unique,
        )
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
    if numeric and n_unique > 2:
        values = s.to_numpy(dtype=np.float64)
        integral = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
        if not integral or n_unique > max_classes:
            return "regression"
    return "binary" if n_unique == 2 else "multiclass"


def canonical_task(task: str) -> str:
    """``task`` as one of :data:`TASKS` (``"classification"`` means ``"binary"``)."""
    name = _ALIASES.get(task, task)
    if name not in TASKS:
        raise ParameterError(
            f"task must be one of {', '.join(TASKS)}, got {task!r}",
            parameter="task",
            valid=list(TASKS),
        )
    return name


def is_classification(task: str) -> bool:
    """Whether ``task`` is a classification task (binary, multiclass or the old name)."""
    return task in ("binary", "multiclass", "classification")


def class_index(classes: Sequence[Any], wanted: Any, *, parameter: str) -> int:
    """The position of class ``wanted`` in ``classes``, matched by value or, for a
    parameter given as text (``-p evaluate.positive_class=1``), by its text."""
    listed = list(classes)
    for i, c in enumerate(listed):
        if _same(c, wanted):
            return i
    for i, c in enumerate(listed):
        if str(c) == str(wanted):
            return i
    if isinstance(wanted, (bool, np.bool_)):
        # YAML reads -p ...=no as False: a text class spelt as one of its boolean words
        spelt = [i for i, c in enumerate(listed) if str(c).lower() in _YAML_BOOL[bool(wanted)]]
        if len(spelt) == 1:
            return spelt[0]
    raise ParameterError(
        f"{parameter} {wanted!r} is not a class of the target "
        f"(classes: {', '.join(map(repr, listed))})",
        parameter=parameter,
        valid=[str(c) for c in listed],
    )


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python: a boolean class only matches a boolean (or its text).
    if isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_)):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def positive_class(classes: Sequence[Any], chosen: Any = None) -> Any:
    """The positive class of a binary model with ``classes`` (``model.classes_``, sorted):
    ``chosen`` when given (it must be one of them), else the last of the sorted classes
    (``1`` of 0/1, ``True`` of booleans, ``"yes"`` of ``"no"``/``"yes"``)."""
    listed = list(classes)
    if len(listed) != 2:
        raise DataError(f"a binary model has 2 classes; this one has {len(listed)}")
    if chosen is None:
        try:
            return sorted(listed)[-1]
        except TypeError:  # labels of mixed types: the model's own order
            return listed[-1]
    return listed[class_index(listed, chosen, parameter="positive_class")]
