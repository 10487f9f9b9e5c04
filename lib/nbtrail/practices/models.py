"""Saving and loading fitted models with skops (never pickle).

skops refuses, on load, every type outside its own small default set (plain containers,
numpy arrays and dtypes' values, scikit-learn estimators' public classes). What it reports as
untrusted for a given file is checked here against :data:`TRUSTED_TYPES`, an explicit list of
exact type names that we reviewed; a file that needs anything else is refused, naming the
types, instead of being trusted blindly. There are no prefix rules: ``numpy.`` alone would
admit ``numpy.load`` (which can unpickle) and ``sklearn.`` would admit any callable in it.

How the list was made (scikit-learn 1.9.1, skops 0.16.0): ``skops.io.get_untrusted_types`` on
the estimators the train stage's parameters allow and their usual companions (pipelines,
ColumnTransformer with imputers, scalers and one-hot encoding, LogisticRegression,
SGDClassifier, SVC, k-NN, decision trees, random and extra forests, AdaBoost, gradient
boosting, HistGradientBoosting, CalibratedClassifierCV). Each entry is a data-holding class
that rebuilds fitted state from arrays; none is a function, none runs code on construction
beyond setting attributes. Add a type only after reading its ``__setstate__``/``__reduce__``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from nbtrail.core.errors import IntegrityError

TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        # Fitted tree arrays of DecisionTree*, RandomForest*, ExtraTrees*, GradientBoosting*,
        # AdaBoost*: a Cython class rebuilt from node arrays (no callables).
        "sklearn.tree._tree.Tree",
        # HistGradientBoosting*'s fitted trees: a structured node array plus binning thresholds.
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        # CalibratedClassifierCV's fitted members: an estimator plus calibrators (data only).
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        # The dtype class itself, referenced by OneHotEncoder(dtype=...) and similar.
        "numpy.dtype",
    }
)


def untrusted_types(data: bytes) -> list[str]:
    """Types a skops payload needs beyond skops' defaults and :data:`TRUSTED_TYPES`."""
    import skops.io as sio

    return sorted(t for t in sio.get_untrusted_types(data=data) if t not in TRUSTED_TYPES)


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` in skops format (atomically).

    Refuses (``ValueError``) to write a model that :func:`load_model` would refuse to read,
    so an unreviewed type is caught where it is made, not later by whoever loads it.
    """
    from nbtrail.core import atomic

    p = Path(path)
    atomic.write_bytes(p, dumps_model(model))
    return p


def dumps_model(model: Any) -> bytes:
    """``model`` as skops bytes, the same bytes each time for the same model
    (:func:`canonical_skops`).

    Refuses (``ValueError``) a model that :func:`loads_model` would refuse to read.
    """
    import skops.io as sio

    data = canonical_skops(sio.dumps(model))
    refused = untrusted_types(data)
    if refused:
        raise ValueError(
            f"model {type(model).__name__} needs types outside the reviewed skops allow-list: "
            f"{', '.join(refused)} (review them and add them to nbtrail.models.TRUSTED_TYPES)"
        )
    return data


def canonical_skops(data: bytes) -> bytes:
    """The same skops archive, byte-for-byte reproducible.

    skops names array members and ``__id__`` fields after ``id()`` of the objects and stamps
    the current time on every zip member, so the same model saved twice gives different
    bytes. Names and ids are renumbered in the order ``schema.json`` first mentions them, and
    members dated 1980-01-01, so equal models get equal content hashes (``nbtrail
    reproduce`` compares outputs by hash).
    """
    import io
    import re
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    schema = src.read("schema.json").decode("utf-8")
    names = [n for n in src.namelist() if n != "schema.json"]
    order = list(dict.fromkeys(re.findall(r'"([^"/]+\.npy)"', schema)))
    order += [n for n in names if n not in order]
    mapping = {old: f"array-{i:05d}{Path(old).suffix}" for i, old in enumerate(order)}
    schema = re.sub(
        r'"([^"/]+\.npy)"', lambda m: f'"{mapping.get(m.group(1), m.group(1))}"', schema
    )
    ids: dict[str, int] = {}  # object ids (memory addresses) -> order of first appearance
    schema = re.sub(
        r'"__id__": (\d+)',
        lambda m: f'"__id__": {ids.setdefault(m.group(1), len(ids) + 1)}',
        schema,
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        members = [("schema.json", schema.encode("utf-8"))]
        members += sorted((mapping[n], src.read(n)) for n in names)
        for name, payload in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, payload)
    return out.getvalue()


def loads_model(data: bytes, *, where: str = "model") -> Any:
    """Load skops bytes, trusting only skops' defaults and :data:`TRUSTED_TYPES`."""
    import skops.io as sio

    refused = untrusted_types(data)
    if refused:
        raise IntegrityError(
            f"{where}: refusing to load a model that needs untrusted types: {', '.join(refused)}",
            hint="review these types and add them to nbtrail.models.TRUSTED_TYPES",
            path=where,
            types=refused,
        )
    needed = sorted(set(sio.get_untrusted_types(data=data)) & TRUSTED_TYPES)
    return sio.loads(data, trusted=needed)


def load_model(path: str | os.PathLike[str]) -> Any:
    """Load a skops file, trusting only the reviewed allow-list of types."""
    return loads_model(Path(path).read_bytes(), where=str(path))
