"""Building a bundle: the checks first, then every file it holds, written as one folder.

:func:`build_bundle` is the whole job in one call (refuse a failed evaluation, convert, check
parity, write); :func:`write_bundle` is its last step, for a caller that ran the steps itself
(the export stage shows each in its notebook).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError
from nbtrail.practices.export.bundle import BUNDLE_FORMAT, Bundle, write_folder
from nbtrail.practices.export.jsonvalues import is_nan, json_bytes, plain
from nbtrail.practices.export.loader import loader_source
from nbtrail.practices.export.metrics import metrics_document
from nbtrail.practices.export.model_card import model_card_html, model_card_markdown
from nbtrail.practices.export.onnx_model import to_onnx
from nbtrail.practices.export.parity import DEFAULT_TOLERANCE, check_parity
from nbtrail.practices.export.refusal import check_evaluation
from nbtrail.practices.export.schemas import input_schema, output_schema_for

if TYPE_CHECKING:
    import pandas as pd


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def requirements(dists: Sequence[str], optional: Sequence[str] = ()) -> str:
    """A requirements file pinning the installed versions of ``dists`` (and ``optional``)."""
    lines = ["# Pinned versions this bundle was exported and checked with."]
    lines += [f"{d}=={_version(d)}" for d in dists if _version(d)]
    for d in optional:
        if _version(d):
            lines.append(f"{d}=={_version(d)}  # optional: full JSON Schema validation")
    return "\n".join(lines) + "\n"


def _rows_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append({str(k): (None if is_nan(v) else plain(v)) for k, v in rec.items()})
    return rows


def sample_of(frame: pd.DataFrame, n: int, schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The first ``n`` rows that satisfy the schema's enforced ranges (all rows qualify when
    ranges are not enforced), as JSON objects."""
    import pandas as pd

    keep = pd.Series(True, index=frame.index)
    for col, prop in schema["properties"].items():
        if "minimum" in prop:
            keep &= frame[col].isna() | frame[col].between(prop["minimum"], prop["maximum"])
    return _rows_json(frame[keep].head(n))


def write_bundle(
    model: Any,
    dest: str | os.PathLike[str],
    *,
    name: str,
    version: int | str,
    onnx: bytes,
    onnx_spec: Mapping[str, Any],
    parity: Mapping[str, Any],
    schema: Mapping[str, Any],
    holdout_features: pd.DataFrame,
    verdicts: Mapping[str, Any],
    evaluation_run: str | None,
    metrics: Mapping[str, Any],
    slices: Sequence[Mapping[str, Any]] = (),
    intended_use: str = "",
    lineage: Mapping[str, Any] | None = None,
    sample_size: int = 5,
    overwrite: bool = False,
) -> Bundle:
    """Write the bundle of a model whose checks passed: ``onnx``/``onnx_spec`` from
    :func:`~.onnx_model.to_onnx`, ``parity`` from :func:`~.parity.check_parity`, ``schema``
    from :func:`~.schemas.input_schema` and ``verdicts`` from
    :func:`~.refusal.check_evaluation`. Adds the skops copy (refusing unreviewed types), the
    output schema, metrics, card, requirements, sample rows, ``load_bundle.py`` and the
    manifest. Returns the verified bundle.

    The same arguments give the same bytes, file for file, so the same bundle digest: nothing
    in it depends on when or by which run it was written (no clock, no run id, no object
    addresses; see :func:`~.onnx_model.to_onnx` and :func:`~nbtrail.practices.models.dumps_model`).
    """
    from nbtrail.practices import models

    skops_bytes = models.dumps_model(model)  # canonical bytes; refuses unreviewed types now
    classes = [plain(c) for c in getattr(model, "classes_", [])]
    metrics_doc = metrics_document(
        metrics, slices=slices, verdicts=verdicts, evaluation_run=evaluation_run
    )
    meta = {
        "format": BUNDLE_FORMAT,
        "name": name,
        "version": version,
        "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
        "features": list(schema["x-feature-order"]),
        "classes": classes,
        "task": "classification" if classes else "regression",
        "onnx": {"file": "model.onnx", **onnx_spec},
        "skops": {"file": "model.skops", "trusted_types": sorted(models.TRUSTED_TYPES)},
        "parity": dict(parity),
        "intended_use": intended_use,
        "lineage": dict(lineage or {}),
    }
    card = model_card_markdown(meta, metrics_doc)
    files: dict[str, bytes] = {
        "model.onnx": onnx,
        "model.skops": skops_bytes,
        "input_schema.json": json_bytes(schema),
        "output_schema.json": json_bytes(output_schema_for(model)),
        "metrics.json": json_bytes(metrics_doc),
        "bundle.json": json_bytes(meta),
        "model_card.md": card.encode(),
        "model_card.html": model_card_html(card, f"{name} v{version}").encode(),
        "requirements-onnx.txt": requirements(["onnxruntime", "numpy"], ["jsonschema"]).encode(),
        "requirements-skops.txt": requirements(
            ["skops", "scikit-learn", "scipy", "numpy"], ["jsonschema"]
        ).encode(),
        "sample_rows.json": json_bytes(sample_of(holdout_features, sample_size, schema)),
        "load_bundle.py": loader_source(),
    }
    return write_folder(dest, files, overwrite=overwrite)


def build_bundle(
    model: Any,
    dest: str | os.PathLike[str],
    *,
    name: str,
    version: int | str,
    train_features: pd.DataFrame,
    holdout_features: pd.DataFrame,
    evaluation: Mapping[str, Any] | None,
    metrics: Mapping[str, Any] | None = None,
    slices: Sequence[Mapping[str, Any]] = (),
    intended_use: str = "",
    lineage: Mapping[str, Any] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    enforce_ranges: bool = False,
    sample_rows: int = 5,
    overwrite: bool = False,
    required_verdicts: str = "",
) -> Bundle:
    """Check, then write the full bundle for a fitted classifier into ``dest``.

    ``train_features``/``holdout_features`` hold the feature columns only, in the order the
    model was fitted on. ``evaluation`` is the evaluate stage's run record (see
    :func:`~.refusal.check_evaluation`); ``metrics`` default to its ``metrics``. ``lineage``
    may carry ``run_ids`` (stage -> run id), ``notebook_hash``, ``git_commit``, ``git_dirty``,
    ``data_versions`` (list of ``name@version``), ``params`` and ``trained`` (when the train
    run ended).
    Raises :class:`GateFailed` (evaluation, parity) before anything is written.
    """
    verdicts = check_evaluation(evaluation, model=f"{name}@{version}", required=required_verdicts)
    if list(holdout_features.columns) != list(train_features.columns):
        raise DataError("holdout and training features differ in columns or order")
    onnx_bytes, spec = to_onnx(model, train_features)
    parity = check_parity(model, onnx_bytes, holdout_features, spec, tolerance=tolerance)
    return write_bundle(
        model,
        dest,
        name=name,
        version=version,
        onnx=onnx_bytes,
        onnx_spec=spec,
        parity=parity,
        schema=input_schema(train_features, enforce_ranges=enforce_ranges),
        holdout_features=holdout_features,
        verdicts=verdicts,
        evaluation_run=(evaluation or {}).get("run_id"),
        metrics=metrics if metrics is not None else (evaluation or {}).get("metrics") or {},
        slices=slices,
        intended_use=intended_use,
        lineage=lineage,
        sample_size=sample_rows,
        overwrite=overwrite,
    )
