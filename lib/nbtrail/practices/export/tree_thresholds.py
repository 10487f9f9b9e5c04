"""Tree split thresholds placed where float32 decides like scikit-learn.

ONNX Runtime's tree ensembles compare ``float32(x) <= float32(t)``, the threshold rounded to
the nearest float32. scikit-learn decides otherwise, in two ways:

- its decision trees (random forests, extra trees, gradient boosting) compare
  ``float32(x) <= t`` with ``t`` in float64, which skl2onnx's converters already place
  (a forest's graph is left as it is; :func:`placed` shows the rule: round ``t`` down);
- HistGradientBoosting compares ``x <= t`` in float64. A split halfway between two decimal
  values is often a decimal value itself, a hair below it in float64 (bmi 27.299999999999997
  between 27.2 and 27.4 in the diabetes data); float32 cannot tell 27.3 from that threshold,
  so ONNX sent every row with 27.3 left and its prediction jumped (178.6 against 179.9). The
  float32 number holding ``t`` stands for a range of inputs; it goes to the side most of the
  training values in it take (a quantile split can sit exactly on a data value, which goes
  left), and with none there, to the side of the shortest decimal in it (``27.3``, as data is
  written), by moving the threshold just below it when it belongs right.

skl2onnx has no float64 tree for HistGradientBoosting, so the converted graph's thresholds
are moved. Only ``BRANCH_LEQ`` nodes of ``TreeEnsembleRegressor`` and
``TreeEnsembleClassifier`` are touched; any other graph is returned unchanged, and the parity
check stays the judge.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

TREE_OPS = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")


def sklearn_thresholds(estimator: Any) -> tuple[dict[int, list[float]], bool]:
    """Feature index -> the float64 thresholds of every split of a fitted tree ensemble, and
    whether it compares inputs in float64 (HistGradientBoosting) rather than float32
    (DecisionTree, RandomForest, ExtraTrees, GradientBoosting); empty for other models."""
    import numpy as np

    found: dict[int, list[float]] = defaultdict(list)
    for predictors in getattr(estimator, "_predictors", []) or []:  # HistGradientBoosting
        for predictor in predictors:
            nodes = predictor.nodes[~predictor.nodes["is_leaf"].astype(bool)]
            for f, t in zip(nodes["feature_idx"], nodes["num_threshold"], strict=True):
                found[int(f)].append(float(t))
    if found:
        return dict(found), True
    trees = [getattr(estimator, "tree_", None)]
    trees += [getattr(e, "tree_", None) for e in np.ravel(getattr(estimator, "estimators_", []))]
    for tree in trees:
        if tree is None:
            continue
        inner = tree.feature >= 0
        for f, t in zip(tree.feature[inner], tree.threshold[inner], strict=True):
            found[int(f)].append(float(t))
    return dict(found), False


def placed(t: float, *, float64_inputs: bool, values: np.ndarray | None = None) -> float:
    """The float32 threshold for a split at ``t`` (see the module docstring). ``values``:
    the sorted training values of the split's feature; the ones sharing the float32 of ``t``
    decide which side that float32 goes (most of them), before the shortest-decimal rule."""
    import numpy as np

    t32 = np.float32(t)
    below = np.nextafter(t32, np.float32(-np.inf))
    down = t32 if float(t32) <= t else below
    if not float64_inputs:
        return float(down)
    if values is not None and values.size:
        cell = values[values.astype(np.float32) == t32]
        if cell.size:
            left = int(np.count_nonzero(cell <= t))
            return float(t32) if left * 2 >= cell.size else float(below)
    shortest = float(str(t32))  # the decimal the float32 holding t is written as
    return float(t32) if shortest <= t else float(below)


def place_thresholds(onnx_bytes: bytes, model: Any, train_features: Any = None) -> bytes:
    """``onnx_bytes`` with the float32 thresholds of a tree ensemble's splits placed (see
    the module docstring). ``model`` is the fitted estimator or pipeline whose last step is
    the ensemble; its earlier steps turn ``train_features`` (optional) into the columns the
    ensemble splits, whose values decide a float32 that both sides of a split share."""
    import numpy as np
    import onnx

    estimator = model.steps[-1][1] if hasattr(model, "steps") else model
    thresholds, float64_inputs = sklearn_thresholds(estimator)
    if not float64_inputs:
        return onnx_bytes
    columns: dict[int, np.ndarray] = {}
    if train_features is not None:
        x = model[:-1].transform(train_features) if hasattr(model, "steps") else train_features
        matrix = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        for f in thresholds:
            if f < matrix.shape[1]:
                col = matrix[:, f]
                columns[f] = np.unique(col[~np.isnan(col)])
    targets: dict[tuple[int, float], set[float]] = defaultdict(set)
    for f, ts in thresholds.items():
        for t in ts:
            target = placed(t, float64_inputs=True, values=columns.get(f))
            targets[(f, float(np.float32(t)))].add(target)
    # a graph threshold two splits round to, wanting two places, is left alone
    moves = {k: v.pop() for k, v in targets.items() if len(v) == 1 and k[1] not in v}
    if not moves:
        return onnx_bytes
    graph = onnx.load_from_string(onnx_bytes)
    changed = 0
    for node in graph.graph.node:
        attrs = {a.name: a for a in node.attribute}
        if node.op_type not in TREE_OPS or "nodes_values" not in attrs:
            continue
        modes = attrs["nodes_modes"].strings
        features = attrs["nodes_featureids"].ints
        values = attrs["nodes_values"].floats
        for i, (mode, f) in enumerate(zip(modes, features, strict=True)):
            key = (int(f), float(np.float32(values[i])))
            if mode == b"BRANCH_LEQ" and key in moves:
                values[i] = moves[key]
                changed += 1
    return graph.SerializeToString() if changed else onnx_bytes
