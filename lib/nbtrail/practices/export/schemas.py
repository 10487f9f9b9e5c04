"""The bundle's JSON Schemas: one input row (from the training features) and one prediction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

# Enumerate a text column's values in the schema when it has at most this many.
MAX_ENUM = 50


def input_schema(features: pd.DataFrame, *, enforce_ranges: bool = False) -> dict[str, Any]:
    """JSON Schema of one input row, derived from the training features.

    Numbers carry the training range as ``x-training-minimum``/``x-training-maximum``
    annotations, or with ``enforce_ranges=True`` as ``minimum``/``maximum`` that validators
    enforce. Not enforced by default: holdout rows of the default dataset already fall outside
    the training range, and refusing them would refuse legitimate traffic; drift is the
    monitor stage's job.
    Columns with missing values in training also accept ``null``. Every feature is required
    and no other property is accepted.
    """
    import pandas as pd

    props: dict[str, Any] = {}
    for col in features.columns:
        s = features[col]
        nullable = bool(s.isna().any())
        prop: dict[str, Any]
        if pd.api.types.is_bool_dtype(s):
            prop = {"type": "boolean"}
        elif pd.api.types.is_numeric_dtype(s):
            kind = "integer" if pd.api.types.is_integer_dtype(s) else "number"
            prop = {"type": kind}
            lo, hi = s.min(), s.max()
            if pd.notna(lo):
                lo_v = int(lo) if kind == "integer" else float(lo)
                hi_v = int(hi) if kind == "integer" else float(hi)
                if enforce_ranges:
                    prop.update(minimum=lo_v, maximum=hi_v)
                else:
                    prop.update({"x-training-minimum": lo_v, "x-training-maximum": hi_v})
        else:
            values = sorted({str(v) for v in s.dropna().unique()})
            prop = {"type": "string"}
            if len(values) <= MAX_ENUM:
                prop["enum"] = values
        prop["x-dtype"] = str(s.dtype)
        if nullable:
            prop["type"] = [prop["type"], "null"]
            if "enum" in prop:
                prop["enum"] = [*prop["enum"], None]
        props[str(col)] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "one input row",
        "type": "object",
        "properties": props,
        "required": [str(c) for c in features.columns],
        "additionalProperties": False,
        "x-feature-order": [str(c) for c in features.columns],
    }


def regression_output_schema() -> dict[str, Any]:
    """JSON Schema of one regression prediction."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "one prediction",
        "type": "object",
        "properties": {"prediction": {"type": "number", "description": "the predicted value"}},
        "required": ["prediction"],
        "x-classes": [],
        "x-onnx-outputs": {"variable": "float tensor [N, 1]"},
    }


def output_schema_for(model: Any) -> dict[str, Any]:
    """The output schema of a fitted model: class probabilities, or one predicted value."""
    classes = getattr(model, "classes_", None)
    if classes is None:
        return regression_output_schema()
    return output_schema([c.item() if hasattr(c, "item") else c for c in classes])


def output_schema(classes: Sequence[Any]) -> dict[str, Any]:
    """JSON Schema of one prediction: the label and one probability per class, in order."""
    k = len(classes)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "one prediction",
        "type": "object",
        "properties": {
            "label": {"enum": list(classes)},
            "probabilities": {
                "type": "array",
                "items": {"type": "number", "minimum": 0, "maximum": 1},
                "minItems": k,
                "maxItems": k,
                "description": f"probability of each class, in the order {list(classes)}",
            },
        },
        "required": ["label", "probabilities"],
        "x-classes": list(classes),
        "x-onnx-outputs": {
            "label": "int64 or string tensor [N]",
            "probabilities": "float tensor [N, k]",
        },
    }
