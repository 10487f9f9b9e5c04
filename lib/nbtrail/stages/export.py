"""The export stage's glue, one call per cell of ``notebooks/04_export.ipynb``.

The mechanics (schemas, ONNX, parity, the bundle's files, its manifest) are
:mod:`nbtrail.practices.export`; this is where they meet the run: the upstream runs are read,
the model is registered, parity is recorded as a verdict, the bundle is written into the run's
``outputs/bundle``, published to ``workspace/exports/<name>/<version>`` and its digest recorded
in the registry. :func:`export_from_run` is the whole stage in one call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import GateFailed, NotFound
from nbtrail.practices import export, registry
from nbtrail.practices.sources import part

if TYPE_CHECKING:
    import pandas as pd

    from nbtrail.notebook.run import Run
from nbtrail.runs.record_types import RunRecord


@dataclass(frozen=True)
class Inputs:
    """What the export stage reads from its upstream runs."""

    model: Any  # the fitted model of the train run (skops, allow-listed types)
    model_path: Path  # its file, hash-verified
    train_X: pd.DataFrame  # training rows of the data snapshot, feature columns in fit order
    holdout_X: pd.DataFrame  # holdout rows, same columns
    records: dict[str, Mapping[str, Any]]  # run records of data, train and evaluate
    metrics: Mapping[str, Any]  # evaluation metrics (with intervals when recorded)
    slices: list[dict[str, Any]]  # per-slice metrics rows


def evaluation_record(run: Run) -> RunRecord | None:
    """The evaluate stage's run record, or None when the export stage has none upstream (then
    :func:`~nbtrail.practices.export.check_evaluation` refuses)."""
    try:
        return run.upstream_record("evaluate")
    except NotFound:
        return None


def model_name_for(run: Run, given: str | None) -> str:
    """The registry name to export under: ``given``, else the name the evaluate stage
    registered the model under (the dataset's name), else the data snapshot's name."""
    if given:
        return given
    record = evaluation_record(run)
    extra: dict[str, Any] = record.get("extra", {}) if record else {}
    decision = extra.get("ab_decision") or {}
    name = (decision.get("registry") or {}).get("name")
    if name:
        return str(name)
    ref = run.upstream_record("data")["outputs"]["snapshot"].get("ref") or "default"
    return ref.partition("@")[0]


def _metrics_detail(detail: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Metrics (with CIs) and slices from the evaluate stage's JSON output.

    Shapes read: nbtrail.evaluation's ``{"intervals": {m: {value, low, high, level, ...}},
    "slices": {"slices": [rows], ...}}``; ``{"metrics": {...}, "slices": [...]}``; or a flat
    ``{name: {"value", "ci_low", "ci_high"}}``."""
    if not isinstance(detail, Mapping):
        return None, []
    slices: Any = detail.get("slices") or []
    if isinstance(slices, Mapping):
        slices = slices.get("slices") or []
    slices = [dict(s) for s in slices if isinstance(s, Mapping)]
    for key in ("intervals", "metrics"):
        if isinstance(detail.get(key), Mapping):
            return dict(detail[key]), slices
    return dict(detail), []


def load_inputs(
    run: Run, evaluation: Mapping[str, Any], *, metrics_output: str = "evaluation"
) -> Inputs:
    """The trained model, the training and holdout features, and the evaluation's metrics
    (from its ``metrics_output`` JSON when it saved one, else its record's metrics)."""
    features = run.read_json("train", "features")
    model = run.load_model("train", "model")
    model_path = run.input_path("train", "model")
    records = {
        "data": run.upstream_record("data"),
        "train": run.upstream_record("train"),
        "evaluate": dict(evaluation),
    }
    snapshot = run.read_dataset("data", "snapshot")
    cols = list(features["columns"])
    metrics: Any = None
    slices: list[dict[str, Any]] = []
    if metrics_output in evaluation.get("outputs", {}):
        metrics, slices = _metrics_detail(run.read_json("evaluate", metrics_output))
    if metrics is None:
        metrics = evaluation.get("metrics") or {}
    return Inputs(
        model=model,
        model_path=model_path,
        train_X=part(snapshot, "train")[cols],
        holdout_X=part(snapshot, "holdout")[cols],
        records=records,
        metrics=metrics,
        slices=slices,
    )


def check_parity(
    run: Run, inputs: Inputs, onnx: bytes, spec: Mapping[str, Any], *, tolerance: float
) -> dict[str, Any]:
    """ONNX Runtime against scikit-learn on the holdout, recorded on the run: the verdict
    ``onnx_parity`` (with the row when it fails, before :class:`GateFailed` propagates) and
    the metric ``parity_max_abs_diff``."""
    try:
        parity = export.check_parity(
            inputs.model, onnx, inputs.holdout_X, spec, tolerance=tolerance
        )
    except GateFailed as exc:
        if "max_abs_diff" in exc.facts:
            run.verdict(
                "onnx_parity",
                passed=False,
                value=exc.facts["max_abs_diff"],
                bound=tolerance,
                row=exc.facts.get("row"),
            )
        raise
    run.log_metrics({"parity_max_abs_diff": parity["max_abs_diff"]})
    run.verdict("onnx_parity", passed=True, value=parity["max_abs_diff"], bound=tolerance)
    return parity


def register(run: Run, name: str, inputs: Inputs) -> int:
    """Register the trained model as a version of ``name`` (the same bytes keep their
    version) with the evaluation's metrics and a passed verdict; returns the version."""
    train = inputs.records["train"]
    return registry.register_model(
        run.ws,
        name,
        artifact_path=inputs.model_path,
        digest=train["outputs"]["model"]["digest"],
        run_id=train["run_id"],
        metrics=inputs.records["evaluate"].get("metrics") or {},
        verdict=True,
    )


def lineage(records: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The bundle's lineage from the data, train and evaluate run records: run ids, notebook
    hashes, the train run's git commit, parameters and end time, dataset versions, the model's
    BLAKE3.

    Only what the bundle is made from: not the export run's own id, so that re-executing the
    export (``nbtrail reproduce``) makes the same bundle; the export run's record names the
    bundle by its digest, and the registry does too."""
    train = records["train"]
    data_versions = sorted(
        {
            a["ref"]
            for r in records.values()
            for a in [*r.get("inputs", []), *r.get("outputs", {}).values()]
            if a.get("kind") == "dataset" and a.get("ref")
        }
    )
    return {
        "run_ids": {k: r["run_id"] for k, r in records.items()},
        "notebook_hash": {k: r["notebook"]["hash"] for k, r in records.items()},
        "git_commit": train["git"]["commit"],
        "git_dirty": train["git"]["dirty"],
        "data_versions": data_versions,
        "params": {"train": json.dumps(train.get("params", {}), sort_keys=True)},
        "model_digest_blake3": train["outputs"]["model"]["digest"],
        "trained": train.get("ended"),
    }


def write_bundle(
    run: Run,
    inputs: Inputs,
    *,
    name: str,
    version: int,
    onnx: bytes,
    spec: Mapping[str, Any],
    parity: Mapping[str, Any],
    schema: Mapping[str, Any],
    verdicts: Mapping[str, Any],
    intended_use: str = "",
) -> export.Bundle:
    """Write the bundle (with its card and manifest) into the run's ``outputs/bundle``."""
    return export.write_bundle(
        inputs.model,
        run.output_path("bundle"),
        name=name,
        version=version,
        onnx=onnx,
        onnx_spec=spec,
        parity=parity,
        schema=schema,
        holdout_features=inputs.holdout_X,
        verdicts=verdicts,
        evaluation_run=inputs.records["evaluate"].get("run_id"),
        metrics=inputs.metrics,
        slices=inputs.slices,
        intended_use=intended_use,
        lineage=lineage(inputs.records),
        overwrite=True,
    )


def publish(run: Run, bundle: export.Bundle) -> export.Bundle:
    """Copy the bundle to ``workspace/exports/<name>/<version>`` (verified), record its digest
    in the registry, and record its manifest (output ``bundle``) and where it went on the run."""
    name, version = bundle.meta["name"], bundle.meta["version"]
    published = export.copy_bundle(
        bundle.path, export.bundle_dir(run.ws, name, version), overwrite=True
    )
    registry.set_bundle(run.ws, name, version, published.digest)
    run.save_file("bundle", bundle.path / export.MANIFEST, kind="bundle")
    run.note(
        "bundle",
        {
            "model": f"{name}@{version}",
            "path": run.ws.relative(published.path),
            "manifest_sha256": published.digest,
        },
    )
    return published


def summary_line(run: Run, published: export.Bundle) -> str:
    """The stage's line in ``nbtrail run``'s summary: where the bundle went, for which version."""
    meta = published.meta
    return f"export bundle: {run.ws.relative(published.path)} ({meta['name']}@{meta['version']})"


def export_from_run(
    run: Run,
    *,
    name: str,
    intended_use: str = "",
    tolerance: float = export.DEFAULT_TOLERANCE,
    enforce_ranges: bool = False,
    metrics_output: str = "evaluation",
    required_verdicts: str = "",
) -> export.Bundle:
    """The whole export stage in one call, as the notebook runs it cell by cell.

    Refuses a failed or missing evaluation first; then converts the trained model, checks
    parity on the holdout, registers the model (idempotent: the same bytes keep their
    version), writes the bundle into the run's ``outputs/bundle``, publishes it to
    ``workspace/exports/<name>/<version>`` and records it, and names it in the summary.
    """
    evaluation: Mapping[str, Any] = evaluation_record(run) or {}  # refused below if missing
    verdicts = export.check_evaluation(evaluation, model=name, required=required_verdicts)
    inputs = load_inputs(run, evaluation, metrics_output=metrics_output)
    schema = export.input_schema(inputs.train_X, enforce_ranges=enforce_ranges)
    onnx, spec = export.to_onnx(inputs.model, inputs.train_X)
    parity = check_parity(run, inputs, onnx, spec, tolerance=tolerance)
    version = register(run, name, inputs)
    bundle = write_bundle(
        run,
        inputs,
        name=name,
        version=version,
        onnx=onnx,
        spec=spec,
        parity=parity,
        schema=schema,
        verdicts=verdicts,
        intended_use=intended_use,
    )
    published = publish(run, bundle)
    run.summarize(metrics=["parity_max_abs_diff"], lines=[summary_line(run, published)])
    return published
