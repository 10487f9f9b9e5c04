"""The bootstrap over holdout rows, shared by holdout intervals and paired A/B differences:
seeded resamples as row weights, the draws of a statistic per metric, the checks that a
holdout is large enough, and percentile intervals."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.evaluation.metrics import (
    MetricOptions,
    metric_weighted,
    point_metrics,
    weights_of,
)
from nbtrail.practices.evaluation.targets import prepare_target, scores_for, target_classes

# Resamples are computed in blocks so that block * rows stays under this many cells.
_BLOCK_CELLS = 2_000_000


class BootstrapOptions(MetricOptions, total=False):
    """The keyword settings of a bootstrap over holdout rows: see :class:`Resampling`."""

    task: str | None
    metrics: Sequence[str] | None
    pos_label: Any
    classes: Sequence[Any] | None
    n_boot: int
    level: float
    seed: int
    min_rows: int
    min_class_rows: int
    progress: Callable[[int, int], None] | None


@dataclass(frozen=True)
class Resampling:
    """How a holdout is resampled: the ``task`` (inferred when None), the ``metrics`` (the
    task's defaults when None), ``pos_label`` (binary), ``classes`` (multiclass: the
    columns of the probabilities, default the target's sorted values), ``threshold`` and
    ``n_bins`` (see :class:`~nbtrail.practices.evaluation.metrics.Scoring`), ``n_boot``
    resamples from ``seed``, a ``level`` interval, and the smallest holdout accepted:
    ``min_rows`` rows and, for classification, ``min_class_rows`` of each class present.
    ``progress(done, total)``, when given, is told the resamples done after each block (a
    notebook's progress bar: ``nbtrail.widgets.progress``)."""

    n_boot: int
    task: str | None = None
    metrics: Sequence[str] | None = None
    pos_label: Any = 1
    classes: Sequence[Any] | None = None
    threshold: float = 0.5
    level: float = 0.95
    seed: int = 0
    n_bins: int = 10
    min_rows: int = 30
    min_class_rows: int = 10
    progress: Callable[[int, int], None] | None = None

    @classmethod
    def of(cls, options: BootstrapOptions, *, n_boot: int) -> Resampling:
        """The settings ``options`` name, defaults for the others (``n_boot`` is the
        caller's)."""
        return replace(cls(n_boot=n_boot), **options)

    def metric_options(self) -> MetricOptions:
        return {"threshold": self.threshold, "n_bins": self.n_bins}


@dataclass(frozen=True)
class Resampled:
    """Scores of one holdout, resampled: the task, the target, the metrics, each score's
    metrics on all rows (in the order given) and, per metric, the finite draws of the
    statistic."""

    task: str
    y: np.ndarray
    metrics: tuple[str, ...]
    values: tuple[dict[str, float], ...]
    draws: dict[str, np.ndarray]


def resample_weights(n: int, n_boot: int, seed: int) -> Iterable[np.ndarray]:
    """Bootstrap resamples of ``n`` rows as row-weight blocks ``(B, n)``, from one seeded
    generator (the same seed gives the same resamples, so two models can share them)."""
    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    done = 0
    while done < n_boot:
        size = min(block, n_boot - done)
        yield weights_of(rng.integers(0, n, size=(size, n)), n)
        done += size


def bootstrap_draws(
    n_rows: int,
    metrics: Sequence[str],
    statistic: Callable[[str, np.ndarray], np.ndarray],
    *,
    n_boot: int,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per metric, ``statistic(metric, weights)`` over ``n_boot`` row resamples (weights of
    shape ``(B, n_rows)``, drawn in chunks), keeping only the finite draws: the one bootstrap
    loop that holdout intervals and paired A/B differences share. ``progress(done, n_boot)``
    is called after each chunk."""
    draws: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    done = 0
    for w in resample_weights(n_rows, n_boot, seed):
        for m in metrics:
            draws[m].append(statistic(m, w))
        done += len(w)
        if progress is not None:
            progress(done, n_boot)
    out: dict[str, np.ndarray] = {}
    for m, parts in draws.items():
        d = np.concatenate(parts) if parts else np.empty(0)
        out[m] = d[np.isfinite(d)]
    return out


def check_interval_request(
    n_rows: int,
    *,
    n_boot: int,
    level: float,
    min_rows: int,
    y: np.ndarray | None = None,
    min_class_rows: int = 0,
    classes: Sequence[Any] | None = None,
) -> None:
    """Refuse a holdout too small for the requested intervals, or an impossible request:
    with ``y`` (0/1, or class indices into ``classes``) each class present must have
    ``min_class_rows`` rows (a binary target needs both classes)."""
    if not 0 < level < 1:
        raise ParameterError(f"level must be in (0, 1), got {level!r}", parameter="level")
    tail = n_boot * (1 - level) / 2
    if tail < 5:
        raise ParameterError(
            f"n_boot={n_boot} is too few resamples for a {level:.0%} interval "
            f"(fewer than 5 resamples in each tail); use n_boot >= {math.ceil(10 / (1 - level))}",
            parameter="n_boot",
        )
    if n_rows < min_rows:
        raise DataError(
            f"the holdout has {n_rows} rows, too few for bootstrap intervals (min_rows={min_rows})",
            hint="use a larger holdout or lower min_rows",
            n_rows=n_rows,
            min_rows=min_rows,
        )
    if y is not None and min_class_rows and classes is not None:
        counts = np.bincount(y.astype(np.int64), minlength=len(classes))
        few = [
            (str(c), int(k)) for c, k in zip(classes, counts, strict=True) if 0 < k < min_class_rows
        ]
        if few:
            shown = ", ".join(f"{k} of class {c}" for c, k in few)
            raise DataError(
                f"the holdout has {shown}: too few of a class for bootstrap intervals "
                f"(min_class_rows={min_class_rows})",
                hint="use a larger or stratified holdout, or lower min_class_rows",
                class_rows=dict(few),
            )
    elif y is not None and min_class_rows:
        n_pos = int(y.sum())
        n_neg = int(len(y) - n_pos)
        if min(n_pos, n_neg) < min_class_rows:
            raise DataError(
                f"the holdout has {n_pos} positive and {n_neg} negative rows, too few of one "
                f"class for bootstrap intervals (min_class_rows={min_class_rows})",
                hint="use a larger or stratified holdout",
                n_pos=n_pos,
                n_neg=n_neg,
            )


def _itself(value: np.ndarray) -> np.ndarray:
    return value


def resample_scores(
    y_true: Any,
    scores: Mapping[str, Any],
    settings: Resampling,
    *,
    combine: Callable[..., np.ndarray] = _itself,
    context: str = "",
) -> Resampled:
    """Check the target, each score (``scores`` maps what it is, for messages, to the
    scores) and the request, then draw ``combine(metric of each score)`` on the same
    resampled rows: the metric itself for one score, a difference for two."""
    task, y, metrics = prepare_target(
        y_true, settings.task, settings.metrics, settings.pos_label, settings.classes
    )
    classes = target_classes(y_true, settings.classes) if task == "multiclass" else None
    columns = None if classes is None else len(classes)
    arrays = [
        scores_for(y, s, what=what, context=context, columns=columns) for what, s in scores.items()
    ]
    classification = task != "regression"
    check_interval_request(
        len(y),
        n_boot=settings.n_boot,
        level=settings.level,
        min_rows=settings.min_rows,
        y=y if classification else None,
        min_class_rows=settings.min_class_rows if classification else 0,
        classes=classes,
    )
    options = settings.metric_options()
    values = tuple(point_metrics(y, s, metrics, **options) for s in arrays)
    draws = bootstrap_draws(
        len(y),
        metrics,
        lambda m, w: combine(*(metric_weighted(m, y, s, w, **options) for s in arrays)),
        n_boot=settings.n_boot,
        seed=settings.seed,
        progress=settings.progress,
    )
    return Resampled(task, y, metrics, values, draws)


def percentile_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    """The ``level`` percentile interval of the bootstrap ``draws`` (NaN ends when none)."""
    if not len(draws):
        return float("nan"), float("nan")
    alpha = 1 - level
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)
