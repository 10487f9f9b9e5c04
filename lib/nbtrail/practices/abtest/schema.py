"""The input schemas of champion and challenger: a comparison of like with like."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbtrail.core.errors import DataError


def model_input_schema(model: Any) -> list[str] | int | None:
    """The input columns a fitted scikit-learn model expects (or their count, or None)."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    n = getattr(model, "n_features_in_", None)
    return int(n) if n is not None else None


def check_same_schema(
    champion: Sequence[str] | int | None, challenger: Sequence[str] | int | None
) -> None:
    """Raise :class:`DataError` naming the difference when the two input schemas differ."""
    if champion is None or challenger is None:
        return
    if isinstance(champion, int) or isinstance(challenger, int):
        n_a = champion if isinstance(champion, int) else len(champion)
        n_b = challenger if isinstance(challenger, int) else len(challenger)
        if n_a != n_b:
            raise DataError(
                f"input schema mismatch: the champion takes {n_a} columns, the challenger {n_b}",
                champion=n_a,
                challenger=n_b,
            )
        return
    a, b = list(champion), list(challenger)
    if a == b:
        return
    only_a = [c for c in a if c not in set(b)]
    only_b = [c for c in b if c not in set(a)]
    parts = []
    if only_a:
        parts.append(f"only the champion takes {_names(only_a)}")
    if only_b:
        parts.append(f"only the challenger takes {_names(only_b)}")
    if not parts:
        parts.append("same columns in a different order")
    raise DataError(
        "input schema mismatch between champion and challenger: " + "; ".join(parts),
        hint="retrain the challenger on the champion's features, or compare like with like",
        only_champion=only_a,
        only_challenger=only_b,
    )


def _names(cols: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(map(repr, cols[:limit]))
    return shown + (f" and {len(cols) - limit} more" if len(cols) > limit else "")
