"""The monitor verdict's thresholds: :class:`MonitorConfig`, built from the stage's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from nbtrail.core.errors import ParameterError

MULTIVARIATE_METHODS = ("pca", "classifier")


@dataclass(frozen=True)
class MonitorConfig:
    """Thresholds of the monitor verdict (the monitor stage's parameters)."""

    alpha: float = 0.05  # false-alarm rate of a batch verdict (BH level for the columns)
    min_effect: float = 0.1  # a drifted column also needs KS D / TV distance >= this
    drift_share_fail: float = 0.0  # fail when >= this share of columns drifted (0: any)
    # degradation allowed before a labelled batch fails: accuracy / balanced accuracy may fall
    # this far below the baseline (absolute); MAE / RMSE may rise this much above it (relative:
    # 0.05 = 5% larger errors)
    max_drop: float = 0.05
    fail_on_extra_columns: bool = False
    report_rows: int = 50_000  # rows sampled (per dataset) for the Evidently report
    top_k: int = 5  # most drifted columns kept in the history
    seed: int = 0
    # also test the joint distribution (PCA reconstruction error): on in the monitor stage
    # (its ``multivariate`` parameter), off here so ``check_batch``'s checks are unchanged
    multivariate: bool = False
    multivariate_method: str = "pca"  # pca (reconstruction error) or classifier (domain)

    def __post_init__(self) -> None:
        for name in ("alpha", "min_effect", "drift_share_fail", "max_drop"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ParameterError(f"{name} must be a number in [0, 1], got {value!r}")
        if not 0 < self.alpha < 1:
            raise ParameterError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if self.multivariate_method not in MULTIVARIATE_METHODS:
            raise ParameterError(
                f"multivariate_method must be one of {', '.join(MULTIVARIATE_METHODS)}, "
                f"got {self.multivariate_method!r}",
                parameter="multivariate_method",
            )
        if int(self.report_rows) < 100:
            raise ParameterError(f"report_rows must be >= 100, got {self.report_rows!r}")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> MonitorConfig:
        """Build from a parameter mapping, ignoring names that are not thresholds."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in params.items() if k in names})
