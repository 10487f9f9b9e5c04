"""The model as ONNX: conversion with skl2onnx, the input layouts tried, and the feed.

A classifier converts without ZipMap, so ONNX Runtime returns ``label`` [N] and
``probabilities`` [N, k] tensors; a regressor returns ``variable`` [N, 1], its predictions. Whether the converted model is good enough is the parity
check's call (:mod:`.parity`), not this module's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError
from nbtrail.practices.export.tree_thresholds import place_thresholds

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ONNX_INPUT = "input"
# The ONNX graph's name. skl2onnx names it with a random UUID unless told, and the same model
# converted twice would then differ in bytes (and the bundle in digest).
GRAPH_NAME = "nbtrail_model"


def is_classifier(model: Any) -> bool:
    """A model whose output is class probabilities (it has ``predict_proba``)."""
    return hasattr(model, "predict_proba")


def output_name(model: Any) -> str:
    """The ONNX output compared and served: ``probabilities`` or a regressor's ``variable``."""
    return "probabilities" if is_classifier(model) else "variable"


def sklearn_output(model: Any, rows: pd.DataFrame) -> np.ndarray:
    """What the ONNX output must match: ``predict_proba`` [N, k] or ``predict`` as [N, 1]."""
    import numpy as np

    if is_classifier(model):
        return np.asarray(model.predict_proba(rows), dtype=np.float64)
    return np.asarray(model.predict(rows), dtype=np.float64).reshape(-1, 1)


def _is_text(s: pd.Series) -> bool:
    import pandas as pd

    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def _layouts(features: pd.DataFrame) -> list[dict[str, Any]]:
    """ONNX input layouts to try, best first.

    ``columns``: one ``[N, 1]`` input per feature, named after it (what a ColumnTransformer
    selecting columns by name needs; text columns become string tensors). ``matrix``: one
    ``[N, n_features]`` input called ``input`` (numeric features only). Each in double
    precision first (exact for linear models), then single precision (ONNX Runtime's tree
    ensembles and imputers only exist in float32).
    """
    text = {str(c) for c in features.columns if _is_text(features[c])}
    out = []
    for dtype in ("float64", "float32"):
        inputs = {str(c): ("string" if str(c) in text else dtype) for c in features.columns}
        out.append({"layout": "columns", "input_dtype": dtype, "inputs": inputs})
    if not text:
        for dtype in ("float64", "float32"):
            out.append({"layout": "matrix", "input_dtype": dtype, "input": ONNX_INPUT})
    return out


def onnx_feed(rows: pd.DataFrame, spec: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The ``InferenceSession.run`` feed for ``rows`` in the layout ``spec`` describes."""
    import numpy as np

    if spec["layout"] == "matrix":
        return {spec["input"]: rows.to_numpy(dtype=spec["input_dtype"])}
    names = spec.get("names", {})
    feed = {}
    for col, dtype in spec["inputs"].items():
        values = rows[col].to_numpy()
        if dtype == "string":
            values = np.array([str(v) for v in values], dtype=object)
        else:
            values = values.astype(dtype)
        feed[names.get(col, col)] = values.reshape(-1, 1)
    return feed


def _input_names(session: Any, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` with ``names``: the graph input of each column whose name skl2onnx changed
    (it turns characters such as ``/`` into ``_``), matched by position."""
    if spec["layout"] != "columns":
        return dict(spec)
    graph = [i.name for i in session.get_inputs()]
    renamed = {c: g for c, g in zip(spec["inputs"], graph, strict=True) if c != g}
    return {**spec, "names": renamed} if renamed else dict(spec)


def _sort_opsets(onx: Any) -> None:
    """Put the model's operator sets in (domain, version) order, in place. skl2onnx lists
    them in the iteration order of a set of (domain, version) pairs, which changes with
    Python's string hash seed, so the same model converted in two processes differed."""
    pairs = sorted((o.domain, o.version) for o in onx.opset_import)
    del onx.opset_import[:]
    for domain, version in pairs:
        onx.opset_import.add(domain=domain, version=version)


def to_onnx(model: Any, features: pd.DataFrame) -> tuple[bytes, dict[str, Any]]:
    """Convert a fitted classifier (no ZipMap: probabilities are a tensor) or regressor.

    A tree ensemble's float32 split thresholds are placed so that inputs take scikit-learn's
    branches (:mod:`.tree_thresholds`). Returns the ONNX bytes and the input spec (``layout``, ``input_dtype``, ``inputs`` or
    ``input``, and ``names`` for the graph inputs skl2onnx renamed) of the first layout
    that converts and loads in ONNX Runtime. The same model and features give the same bytes
    (the graph is named :data:`GRAPH_NAME`, not skl2onnx's random UUID, and its operator
    sets are sorted, not in a set's hash-seeded order). Whether the
    result is good enough is the parity check's call, not this function's.
    """
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    output = output_name(model)
    options = {"zipmap": False} if is_classifier(model) else None
    tensors = {"float64": DoubleTensorType, "float32": FloatTensorType}
    errors = []
    for spec in _layouts(features):
        if spec["layout"] == "matrix":
            types = [(ONNX_INPUT, tensors[spec["input_dtype"]]([None, features.shape[1]]))]
        else:
            types = [
                (c, StringTensorType([None, 1]) if t == "string" else tensors[t]([None, 1]))
                for c, t in spec["inputs"].items()
            ]
        try:
            onx = convert_sklearn(model, name=GRAPH_NAME, initial_types=types, options=options)
            _sort_opsets(onx)
            data = place_thresholds(onx.SerializeToString(), model, features)
            sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
            named = _input_names(sess, spec)
            sess.run([output], onnx_feed(features.head(2), named))
            return data, {**named, "output": output}
        except Exception as exc:  # noqa: BLE001 - converter/runtime refusals vary by model
            errors.append(f"{spec['layout']}/{spec['input_dtype']}: {str(exc).splitlines()[0]}")
    raise DataError(
        f"skl2onnx could not convert {type(model).__name__}: {errors[-1]}",
        hint="see NOTES.md (protobuf 6.33 for HistGradientBoosting)",
        attempts=errors,
    )


def onnx_predict_proba(
    onnx_bytes: bytes, rows: pd.DataFrame, spec: Mapping[str, Any]
) -> np.ndarray:
    """ONNX Runtime's output for ``rows`` fed in the layout ``spec``: ``probabilities``
    [N, k] for a classifier, predictions [N, 1] for a regressor (``spec["output"]``)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return sess.run([spec.get("output", "probabilities")], onnx_feed(rows, spec))[0]
