"""Where the next member's parameters come from: the grid, random draws, or Optuna's TPE.

Each suggester answers :meth:`ask` with the values of one member (``{"train.max_depth": 4}``)
or None when it has nothing more to suggest, and hears each member's metric through
:meth:`tell` (None: the member failed). Grid and random ignore what they are told; Optuna's
ask-and-tell interface learns from it, so an executor can keep several members in flight and
tell their results in any order.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from nbtrail.practices.sweep.spec import Range, SweepSpec


@dataclass(frozen=True)
class Suggestion:
    """One member's swept values; ``ticket`` identifies it to its suggester."""

    number: int
    values: dict[str, Any]
    ticket: Any = None


class Suggester(Protocol):
    def ask(self) -> Suggestion | None: ...

    def tell(self, suggestion: Suggestion, value: float | None) -> None: ...


class GridSuggester:
    """Every combination of the space's lists, in the order the spec lists them."""

    def __init__(self, spec: SweepSpec) -> None:
        keys = list(spec.space)
        lists = [d if isinstance(d, tuple) else () for d in spec.space.values()]
        self._combos: Iterator[tuple[Any, ...]] = itertools.product(*lists)
        self._keys = keys
        self._n = 0

    def ask(self) -> Suggestion | None:
        combo = next(self._combos, None)
        if combo is None:
            return None
        self._n += 1
        return Suggestion(self._n, dict(zip(self._keys, combo, strict=True)))

    def tell(self, suggestion: Suggestion, value: float | None) -> None:
        """A grid does not learn."""


def draw(rng: random.Random, dim: Range | tuple[Any, ...]) -> Any:
    """One value from a dimension: a choice, or a point of the range (log scale, step, int)."""
    if isinstance(dim, tuple):
        return rng.choice(dim)
    if dim.log:
        x = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))
    elif dim.step is not None:
        steps = int(math.floor((dim.high - dim.low) / dim.step + 1e-9))
        x = dim.low + dim.step * rng.randint(0, steps)
    elif dim.type == "int":
        return rng.randint(int(dim.low), int(dim.high))
    else:
        x = rng.uniform(dim.low, dim.high)
    return int(round(x)) if dim.type == "int" else float(x)


class RandomSuggester:
    """Independent draws from each dimension, seeded by the spec."""

    def __init__(self, spec: SweepSpec, seed: int | None = None) -> None:
        self._space = spec.space
        self._rng = random.Random(spec.seed if seed is None else seed)
        self._n = 0

    def ask(self) -> Suggestion | None:
        self._n += 1
        return Suggestion(self._n, {k: draw(self._rng, d) for k, d in self._space.items()})

    def tell(self, suggestion: Suggestion, value: float | None) -> None:
        """Random search does not learn."""


class OptunaSuggester:
    """Optuna's TPE through ask-and-tell: each member is a trial, told its metric when done."""

    def __init__(self, spec: SweepSpec, seed: int | None = None) -> None:
        import optuna

        self._optuna = optuna
        sampler = optuna.samplers.TPESampler(seed=spec.seed if seed is None else seed)
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per trial on stderr
        try:
            self._study = optuna.create_study(direction=spec.direction, sampler=sampler)
        finally:
            optuna.logging.set_verbosity(level)
        self._space = spec.space
        self._n = 0

    def ask(self) -> Suggestion | None:
        trial = self._study.ask()
        values = {key: _suggest(trial, key, dim) for key, dim in self._space.items()}
        self._n += 1
        return Suggestion(self._n, values, ticket=trial.number)

    def tell(self, suggestion: Suggestion, value: float | None) -> None:
        optuna = self._optuna
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        try:
            if value is None or not math.isfinite(value):
                self._study.tell(suggestion.ticket, state=optuna.trial.TrialState.FAIL)
            else:
                self._study.tell(suggestion.ticket, value)
        finally:
            optuna.logging.set_verbosity(level)


def _suggest(trial: Any, key: str, dim: Range | tuple[Any, ...]) -> Any:
    if isinstance(dim, tuple):
        return trial.suggest_categorical(key, list(dim))
    if dim.type == "int":
        step = int(dim.step) if dim.step else 1
        return trial.suggest_int(key, int(dim.low), int(dim.high), step=step, log=dim.log)
    return trial.suggest_float(key, dim.low, dim.high, step=dim.step, log=dim.log)


def suggester(spec: SweepSpec, seed: int | None = None) -> Suggester:
    """The suggester for ``spec.kind`` (``seed`` replaces the spec's, for experiments)."""
    if spec.kind == "grid":
        return GridSuggester(spec)
    if spec.kind == "random":
        return RandomSuggester(spec, seed)
    return OptunaSuggester(spec, seed)
