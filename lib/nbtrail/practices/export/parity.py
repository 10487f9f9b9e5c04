"""Parity: ONNX Runtime against scikit-learn on the holdout, or the stage fails naming the row."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, GateFailed
from nbtrail.practices.export.jsonvalues import plain
from nbtrail.practices.export.onnx_model import is_classifier, onnx_predict_proba, sklearn_output

if TYPE_CHECKING:
    import pandas as pd

# Largest allowed |ONNX - scikit-learn| probability gap.
DEFAULT_TOLERANCE = 1e-5


def check_parity(
    model: Any,
    onnx_bytes: bytes,
    X: pd.DataFrame,
    spec: Mapping[str, Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """ONNX Runtime vs scikit-learn on every row of ``X``: ``predict_proba`` for a
    classifier (the gap is absolute, probabilities are in [0, 1]); ``predict`` for a
    regressor (the gap is relative, ``|onnx - sklearn| / max(1, |sklearn|)``, since the
    exported trees run in float32 whatever the scale of the target).

    Returns the largest gap with its row (position and index label) and class; raises
    :class:`GateFailed` with the same facts when the gap exceeds ``tolerance``.
    """
    import numpy as np

    if len(X) == 0:
        raise DataError("parity check needs at least one holdout row")
    expected = sklearn_output(model, X)
    got = np.asarray(onnx_predict_proba(onnx_bytes, X, spec), dtype=np.float64)
    if got.shape != expected.shape:
        raise GateFailed(
            f"ONNX parity failed: ONNX gives probabilities of shape {got.shape}, "
            f"scikit-learn {expected.shape}",
            shape_onnx=got.shape,
            shape_sklearn=expected.shape,
        )
    gaps = np.abs(got - expected)
    classifier = is_classifier(model)
    if not classifier:
        gaps = gaps / np.maximum(1.0, np.abs(expected))
    gaps[np.isnan(gaps)] = np.inf
    row, col = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    gap = float(gaps[row, col])
    classes = list(getattr(model, "classes_", ["prediction"]))
    facts = {
        "max_abs_diff": gap,
        "row": int(row),
        "index": plain(X.index[row]),
        "class": plain(classes[col]),
        "tolerance": tolerance,
        "gap": "absolute probability" if classifier else "relative prediction",
        "rows": len(X),
        "input_dtype": spec["input_dtype"],
        "layout": spec["layout"],
        "onnx": float(got[row, col]),
        "sklearn": float(expected[row, col]),
    }
    if not gap <= tolerance:
        raise GateFailed(
            f"ONNX parity failed: largest {facts['gap']} gap {gap:.3g} > {tolerance:g} at holdout "
            f"row {row} (index {facts['index']!r}, class {facts['class']!r}: ONNX "
            f"{facts['onnx']:.8g} vs scikit-learn {facts['sklearn']:.8g})",
            **facts,
        )
    return facts
