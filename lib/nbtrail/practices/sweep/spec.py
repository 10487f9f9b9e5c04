"""A sweep spec (``params/sweeps/NAME.yaml``) read and checked, before anything runs::

    kind: grid                  # grid | random | optuna (TPE, ask-and-tell)
    metric: evaluate.roc_auc    # STAGE.METRIC, or a metric name some stage records
    direction: maximize         # or minimize
    space:                      # STAGE.PARAM: values (a list) or a range (random, optuna)
      train.n_estimators: [50, 100]
      train.learning_rate: {low: 0.01, high: 0.3, log: true}
      train.max_depth: {low: 2, high: 6, type: int, step: 1}
    params:                     # fixed values every member runs with (optional)
      evaluate.model_name: breast_cancer_sweep
    budget: {max_members: 8, max_minutes: 30}
    seed: 0                     # random and optuna draws

A grid multiplies its lists; a spec whose grid is larger than ``max_members`` is refused with
the number of members it would run. Parameter *names* and *types* against the notebooks are
checked by the pipeline (:mod:`nbtrail.pipeline.sweep.plan`), which knows the stages.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from nbtrail.core.errors import ConfigError
from nbtrail.core.yamlio import refuse_unknown_keys

Kind = Literal["grid", "random", "optuna"]
_KEYS = {"kind", "metric", "direction", "space", "params", "budget", "seed", "description"}
_RANGE_KEYS = {"low", "high", "log", "step", "type"}


@dataclass(frozen=True)
class Range:
    """A numeric range to draw from: ``type`` int or float, on a log scale or by ``step``."""

    low: float
    high: float
    type: Literal["int", "float"] = "float"
    log: bool = False
    step: float | None = None

    def ends(self) -> tuple[Any, Any]:
        """Both ends as the parameter's type (what the pipeline checks before a member runs)."""
        if self.type == "int":
            return int(self.low), int(self.high)
        return float(self.low), float(self.high)


Dimension = Range | tuple[Any, ...]  # a range, or the values to choose among


@dataclass(frozen=True)
class Budget:
    max_members: int
    max_minutes: float | None = None


@dataclass(frozen=True)
class SweepSpec:
    """A checked sweep spec; ``space`` keys and ``params`` keys are ``STAGE.PARAM``."""

    name: str
    kind: Kind
    metric: str
    direction: Literal["maximize", "minimize"]
    space: dict[str, Dimension]
    budget: Budget
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    @property
    def metric_stage(self) -> str | None:
        """The stage named by ``STAGE.METRIC``; None for a bare metric name."""
        stage, dot, _ = self.metric.partition(".")
        return stage if dot else None

    @property
    def metric_name(self) -> str:
        return self.metric.partition(".")[2] or self.metric

    def grid_size(self) -> int:
        """How many members the full grid has (``kind: grid``)."""
        return math.prod(len(d) for d in self.space.values() if isinstance(d, tuple))

    def better(self, a: float, b: float) -> bool:
        """Whether metric value ``a`` beats ``b`` in this spec's direction."""
        return a > b if self.direction == "maximize" else a < b


def parse_spec(data: Any, *, name: str, where: str) -> SweepSpec:
    """The spec from its parsed YAML; a problem is a :class:`ConfigError` naming the key."""
    if not isinstance(data, dict):
        raise ConfigError(
            "a sweep spec is a mapping (kind, metric, direction, space, budget)", path=where
        )
    refuse_unknown_keys(data, _KEYS, where=where)
    kind = data.get("kind", "grid")
    if kind not in ("grid", "random", "optuna"):
        raise ConfigError(f"kind {kind!r}: expected grid, random or optuna", path=where)
    metric = data.get("metric")
    if not isinstance(metric, str) or not metric.strip():
        raise ConfigError("metric is required: STAGE.METRIC such as evaluate.roc_auc", path=where)
    direction = data.get("direction", "maximize")
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"direction {direction!r}: expected maximize or minimize", path=where)
    space_in = data.get("space")
    if not isinstance(space_in, dict) or not space_in:
        raise ConfigError("space is required: a mapping of STAGE.PARAM to values", path=where)
    space = {_key(k, "space", where): _dimension(k, v, kind, where) for k, v in space_in.items()}
    fixed = data.get("params") or {}
    if not isinstance(fixed, dict):
        raise ConfigError("params must map STAGE.PARAM to a value", path=where)
    params = {_key(k, "params", where): v for k, v in fixed.items()}
    both = sorted(set(space) & set(params))
    if both:
        raise ConfigError(f"{both[0]!r} is both swept and fixed", path=where)
    seed = data.get("seed", 0)
    if type(seed) is not int:
        raise ConfigError(f"seed must be an integer, got {seed!r}", path=where)
    spec = SweepSpec(
        name=name,
        kind=kind,
        metric=metric.strip(),
        direction=direction,
        space=space,
        budget=_budget(data.get("budget"), where),
        params=params,
        seed=seed,
    )
    if kind == "grid" and spec.grid_size() > spec.budget.max_members:
        raise ConfigError(
            f"the grid has {spec.grid_size()} members, more than the budget's max_members "
            f"{spec.budget.max_members}",
            path=where,
            hint="raise budget.max_members, shorten the lists, or use kind: random",
        )
    return spec


def _key(key: Any, what: str, where: str) -> str:
    stage, dot, param = str(key).partition(".")
    if not dot or not stage or not param:
        raise ConfigError(f"{what}: {key!r} must be STAGE.PARAM, e.g. train.max_depth", path=where)
    return str(key)


def _dimension(key: str, value: Any, kind: str, where: str) -> Dimension:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"space: {key!r} has no values", path=where)
        return tuple(value)
    if not isinstance(value, dict):
        raise ConfigError(
            f"space: {key!r} must be a list of values or a range {{low, high}}", path=where
        )
    if kind == "grid":
        raise ConfigError(
            f"space: {key!r} is a range; a grid needs a list of values",
            path=where,
            hint="list the values, or use kind: random or optuna",
        )
    refuse_unknown_keys(value, _RANGE_KEYS, what=f"space: {key!r}", where=where)
    low, high = value.get("low"), value.get("high")
    if not (_is_number(low) and _is_number(high)):
        raise ConfigError(f"space: {key!r}: low and high must be numbers", path=where)
    assert isinstance(low, int | float) and isinstance(high, int | float)
    kind_of = value.get("type") or ("int" if type(low) is int and type(high) is int else "float")
    if kind_of not in ("int", "float"):
        raise ConfigError(f"space: {key!r}: type {kind_of!r}: expected int or float", path=where)
    log, step = bool(value.get("log", False)), value.get("step")
    if not low < high:
        raise ConfigError(f"space: {key!r}: low {low} must be below high {high}", path=where)
    if log and low <= 0:
        raise ConfigError(f"space: {key!r}: a log range needs low > 0", path=where)
    if step is not None and (log or not isinstance(step, int | float) or step <= 0):
        raise ConfigError(
            f"space: {key!r}: step must be a positive number, without log", path=where
        )
    number: Literal["int", "float"] = "int" if kind_of == "int" else "float"
    return Range(float(low), float(high), number, log, None if step is None else float(step))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _budget(value: Any, where: str) -> Budget:
    if not isinstance(value, dict) or "max_members" not in value:
        raise ConfigError("budget.max_members is required (how many members at most)", path=where)
    refuse_unknown_keys(value, {"max_members", "max_minutes"}, what="budget", where=where)
    n, minutes = value["max_members"], value.get("max_minutes")
    if type(n) is not int or n < 1:
        raise ConfigError(f"budget.max_members must be a positive integer, got {n!r}", path=where)
    if minutes is not None and (not isinstance(minutes, int | float) or minutes <= 0):
        raise ConfigError(
            f"budget.max_minutes must be a positive number, got {minutes!r}", path=where
        )
    return Budget(n, None if minutes is None else float(minutes))
