"""The deployment bundle: what a serving system takes as it is, verified before it leaves.

A bundle is a folder::

    model.onnx              the model for ONNX Runtime (skl2onnx; classifier outputs
                            ``label`` [N] and ``probabilities`` [N, k], no ZipMap)
    model.skops             the same fitted model for scikit-learn (skops, never pickle)
    input_schema.json       JSON Schema (2020-12) of one input row, from the training data
    output_schema.json      JSON Schema of one prediction
    metrics.json            evaluation metrics with confidence intervals, slices, tests
    model_card.md / .html   intended use, data versions, metrics, slices, tests, lineage
    bundle.json             name, version, feature order, classes, ONNX input, parity, lineage
    requirements-onnx.txt   pins to load model.onnx (onnxruntime, numpy; jsonschema optional)
    requirements-skops.txt  pins to load model.skops (skops, scikit-learn, scipy, numpy)
    sample_rows.json        a few holdout rows, to smoke-test a deployment
    load_bundle.py          a standalone loader: verifies, validates rows, predicts
    manifest.json           SHA-256 and size of every other file

The manifest uses **SHA-256**, not nbtrail's BLAKE3, so that a consumer can verify a bundle
with ``sha256sum`` or Python's ``hashlib`` and nothing else installed. The bundle's digest is
the SHA-256 of ``manifest.json``; pin it (``load_bundle.py --expect-digest``) to detect a
manifest rewritten together with the files.

Before a bundle is written, :func:`build_bundle` refuses a model whose evaluation failed or is
missing, and checks parity: ONNX Runtime against scikit-learn ``predict_proba`` on the holdout,
largest absolute difference at most ``tolerance`` (1e-5), or :class:`GateFailed` naming the gap
and the row. The folder appears atomically (built beside the destination, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.errors import DataError, GateFailed, IntegrityError, NotFound

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from nbtrail.core.workspace import Workspace

MANIFEST = "manifest.json"
BUNDLE_FORMAT = 1
DEFAULT_TOLERANCE = 1e-5
ONNX_INPUT = "input"
# Enumerate a text column's values in the schema when it has at most this many.
MAX_ENUM = 50
_IGNORED = {"__pycache__"}  # created when load_bundle.py is imported from the bundle


@dataclass(frozen=True)
class Bundle:
    """A written, verified bundle."""

    path: Path
    digest: str  # SHA-256 of manifest.json
    files: dict[str, str]  # relative path -> SHA-256
    meta: dict[str, Any]  # bundle.json


# ---------------------------------------------------------------------------- schemas


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


# ---------------------------------------------------------------------------- ONNX


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
    feed = {}
    for col, dtype in spec["inputs"].items():
        values = rows[col].to_numpy()
        if dtype == "string":
            values = np.array([str(v) for v in values], dtype=object)
        else:
            values = values.astype(dtype)
        feed[col] = values.reshape(-1, 1)
    return feed


def to_onnx(model: Any, features: pd.DataFrame) -> tuple[bytes, dict[str, Any]]:
    """Convert a fitted classifier with skl2onnx (no ZipMap: probabilities are a tensor).

    Returns the ONNX bytes and the input spec (``layout``, ``input_dtype``, ``inputs`` or
    ``input``) of the first layout that converts and loads in ONNX Runtime. Whether the
    result is good enough is the parity check's call, not this function's.
    """
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    if not hasattr(model, "predict_proba"):
        raise DataError(
            f"export takes classifiers (with predict_proba); {type(model).__name__} is not one"
        )
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
            onx = convert_sklearn(model, initial_types=types, options={"zipmap": False})
            data = onx.SerializeToString()
            sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
            sess.run(["probabilities"], onnx_feed(features.head(2), spec))
            return data, spec
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
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return sess.run(["probabilities"], onnx_feed(rows, spec))[0]


def check_parity(
    model: Any,
    onnx_bytes: bytes,
    X: pd.DataFrame,
    spec: Mapping[str, Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> dict[str, Any]:
    """ONNX Runtime vs scikit-learn ``predict_proba`` on every row of ``X``.

    Returns the largest absolute gap with its row (position and index label) and class;
    raises :class:`GateFailed` with the same facts when the gap exceeds ``tolerance``.
    """
    import numpy as np

    if len(X) == 0:
        raise DataError("parity check needs at least one holdout row")
    expected = np.asarray(model.predict_proba(X), dtype=np.float64)
    got = np.asarray(onnx_predict_proba(onnx_bytes, X, spec), dtype=np.float64)
    if got.shape != expected.shape:
        raise GateFailed(
            f"ONNX parity failed: ONNX gives probabilities of shape {got.shape}, "
            f"scikit-learn {expected.shape}",
            shape_onnx=got.shape,
            shape_sklearn=expected.shape,
        )
    gaps = np.abs(got - expected)
    gaps[np.isnan(gaps)] = np.inf
    row, col = np.unravel_index(int(np.argmax(gaps)), gaps.shape)
    gap = float(gaps[row, col])
    classes = list(getattr(model, "classes_", range(expected.shape[1])))
    facts = {
        "max_abs_diff": gap,
        "row": int(row),
        "index": _plain(X.index[row]),
        "class": _plain(classes[col]),
        "tolerance": tolerance,
        "rows": len(X),
        "input_dtype": spec["input_dtype"],
        "layout": spec["layout"],
        "onnx": float(got[row, col]),
        "sklearn": float(expected[row, col]),
    }
    if not gap <= tolerance:
        raise GateFailed(
            f"ONNX parity failed: largest probability gap {gap:.3g} > {tolerance:g} at holdout "
            f"row {row} (index {facts['index']!r}, class {facts['class']!r}: ONNX "
            f"{facts['onnx']:.8g} vs scikit-learn {facts['sklearn']:.8g})",
            **facts,
        )
    return facts


# ---------------------------------------------------------------------------- evaluation


def check_evaluation(
    evaluation: Mapping[str, Any] | None, *, model: str = "model", required: str = ""
) -> dict:
    """Refuse to export without a completed evaluation whose verdicts passed.

    ``evaluation`` is the evaluate stage's run record (or any mapping with ``status``,
    ``verdicts`` ``{name: {"passed": bool, ...}}`` and optionally ``run_id``). ``required``
    is the name prefix of the verdicts that must pass (``""``: all of them; ``"gate_"``: the
    gates only). Returns the verdicts; raises :class:`GateFailed` when the evaluation is
    missing, not completed, has no verdicts, or a required verdict failed.
    """
    if not evaluation:
        raise GateFailed(
            f"refusing to export {model}: no evaluation found",
            hint="run the evaluate stage first; a model ships only after its gates pass",
            model=model,
        )
    run = evaluation.get("run_id", "?")
    status = evaluation.get("status", "completed")
    if status not in ("completed", "cached"):
        raise GateFailed(
            f"refusing to export {model}: its evaluation run {run} is {status}",
            model=model,
            run_id=run,
        )
    verdicts = evaluation.get("verdicts") or {}
    if not verdicts:
        raise GateFailed(
            f"refusing to export {model}: evaluation run {run} recorded no verdicts",
            hint="the evaluate stage must record its gates with run.verdict(...)",
            model=model,
            run_id=run,
        )
    failed = sorted(
        k for k, v in verdicts.items() if k.startswith(required) and not (v or {}).get("passed")
    )
    if failed:
        raise GateFailed(
            f"refusing to export {model}: evaluation run {run} failed {', '.join(failed)}",
            model=model,
            run_id=run,
            failed=failed,
        )
    return dict(verdicts)


def normalize_metrics(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: value}`` or ``{name: {"value", "ci_low", "ci_high"[, "level"]}}`` (also
    ``low``/``high`` or ``ci: [low, high]``) to ``{name: {value, ci_low, ci_high, level}}``."""
    out: dict[str, dict[str, Any]] = {}
    for name, m in metrics.items():
        if isinstance(m, Mapping):
            ci = m.get("ci")
            low = m.get("ci_low", m.get("low", ci[0] if ci else None))
            high = m.get("ci_high", m.get("high", ci[1] if ci else None))
            out[str(name)] = {
                "value": _num(m.get("value", m.get("estimate"))),
                "ci_low": _num(low),
                "ci_high": _num(high),
                "level": _num(m.get("level", m.get("ci_level", 0.95 if low is not None else None))),
            }
        else:
            out[str(name)] = {"value": _num(m), "ci_low": None, "ci_high": None, "level": None}
    return out


# ---------------------------------------------------------------------------- manifest


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _bundle_files(folder: Path) -> list[str]:
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not (set(rel.parts) & _IGNORED) and rel.as_posix() != MANIFEST:
            out.append(rel.as_posix())
    return out


def write_manifest(folder: str | os.PathLike[str]) -> str:
    """Hash every file of ``folder`` into ``manifest.json``; returns the manifest's SHA-256."""
    root = Path(folder)
    files = {
        rel: {"sha256": _sha256(root / rel), "bytes": (root / rel).stat().st_size}
        for rel in _bundle_files(root)
    }
    manifest = {"format": BUNDLE_FORMAT, "algorithm": "sha256", "files": files}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic.write_text(root / MANIFEST, text)
    return hashlib.sha256(text.encode()).hexdigest()


def verify_bundle(folder: str | os.PathLike[str], *, expected_digest: str | None = None) -> Bundle:
    """Check every file against the manifest (and the manifest against ``expected_digest``).

    Raises :class:`IntegrityError` naming the first file that is missing, changed or not
    listed; :class:`NotFound` when there is no manifest.
    """
    root = Path(folder)
    mpath = root / MANIFEST
    if not mpath.is_file():
        raise NotFound(f"{root}: not a bundle (no {MANIFEST})", path=str(root))
    raw = mpath.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_digest is not None and digest != expected_digest:
        raise IntegrityError(
            f"{root}: {MANIFEST} does not match the recorded bundle digest "
            f"({digest[:12]}... != {expected_digest[:12]}...)",
            file=MANIFEST,
            path=str(root),
        )
    try:
        manifest = json.loads(raw)
        listed = manifest["files"]
        if manifest.get("algorithm") != "sha256":
            raise ValueError(f"unknown algorithm {manifest.get('algorithm')!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{root}: unreadable {MANIFEST}: {exc}", file=MANIFEST) from exc
    hashes: dict[str, str] = {}
    for rel, entry in sorted(listed.items()):
        p = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not p.is_file():
            raise IntegrityError(f"{root}: bundle file {rel} is missing", file=rel, path=str(root))
        got = _sha256(p)
        if got != entry.get("sha256"):
            raise IntegrityError(
                f"{root}: bundle file {rel} does not match its manifest hash "
                f"(the file was changed after export)",
                file=rel,
                path=str(root),
                expected=entry.get("sha256"),
                actual=got,
            )
        hashes[rel] = got
    extra = sorted(set(_bundle_files(root)) - set(listed))
    if extra:
        raise IntegrityError(
            f"{root}: bundle file {extra[0]} is not listed in the manifest",
            file=extra[0],
            path=str(root),
        )
    meta_path = root / "bundle.json"
    meta = json.loads(meta_path.read_text()) if "bundle.json" in hashes else {}
    return Bundle(path=root, digest=digest, files=hashes, meta=meta)


# ---------------------------------------------------------------------------- model card


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def model_card_markdown(meta: Mapping[str, Any], metrics_doc: Mapping[str, Any]) -> str:
    """The model card as Markdown (rendered to HTML by :func:`model_card_html`)."""
    lin = meta.get("lineage") or {}
    lines = [
        f"# Model card: {meta['name']} version {meta['version']}",
        "",
        f"Exported {meta['created']} by nbtrail. Model type: `{meta['model_type']}`; "
        f"classes {meta['classes']}; {len(meta['features'])} features.",
        "",
        "## Intended use",
        "",
        meta.get("intended_use") or "(not stated)",
        "",
        "## Data versions",
        "",
    ]
    data_versions = lin.get("data_versions") or []
    lines += [f"- `{_cell(d)}`" for d in data_versions] or ["(not recorded)"]
    lines += ["", "## Metrics (holdout)", "", "| metric | value | CI low | CI high | level |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for name, m in metrics_doc["metrics"].items():
        lines.append(
            f"| {_cell(name)} | {_cell(m['value'])} | {_cell(m['ci_low'])} | "
            f"{_cell(m['ci_high'])} | {_cell(m['level'])} |"
        )
    lines += ["", "## Slices", ""]
    slices = metrics_doc.get("slices") or []
    if slices:
        keys = list(dict.fromkeys(k for s in slices for k in s))
        first = [k for k in ("column", "slice", "n", "rows") if k in keys]
        cols = first + [k for k in keys if k not in first]
        lines += ["| " + " | ".join(map(_cell, cols)) + " |", "|" + " --- |" * len(cols)]
        lines += ["| " + " | ".join(_cell(s.get(c)) for c in cols) + " |" for s in slices]
    else:
        lines.append("(no slice metrics were recorded)")
    lines += [
        "",
        "## Tests passed",
        "",
        "| test | passed | value | bound |",
        "| --- | --- | --- | --- |",
    ]
    for name, v in sorted((metrics_doc.get("tests") or {}).items()):
        lines.append(
            f"| {_cell(name)} | {'yes' if v.get('passed') else 'NO'} | "
            f"{_cell(v.get('value'))} | {_cell(v.get('bound'))} |"
        )
    par = meta.get("parity") or {}
    lines += [
        "",
        "## Export checks",
        "",
        f"- ONNX Runtime vs scikit-learn on {par.get('rows')} holdout rows: largest "
        f"probability gap {_fmt(par.get('max_abs_diff'))} (tolerance {_fmt(par.get('tolerance'))},"
        f" ONNX inputs {par.get('layout')}, {par.get('input_dtype')}).",
        "- Every file is listed with its SHA-256 in `manifest.json`.",
        "",
        "## Lineage",
        "",
    ]
    for key in ("run_ids", "notebook_hash", "git_commit", "git_dirty", "params"):
        if key in lin:
            val = lin[key]
            if isinstance(val, Mapping):
                lines.append(f"- {key}:")
                lines += [f"  - {_cell(k)}: `{_cell(v)}`" for k, v in sorted(val.items())]
            elif val is None or val == "":
                lines.append(f"- {key}: (not recorded)")
            else:
                lines.append(f"- {key}: `{_cell(val)}`")
    lines += [
        "",
        "## How to load",
        "",
        "```",
        "pip install -r requirements-onnx.txt",
        "python load_bundle.py sample_rows.json          # verify, validate, predict",
        "```",
        "",
        "Or with scikit-learn: `pip install -r requirements-skops.txt`, then "
        "`python load_bundle.py --engine skops sample_rows.json`.",
        "",
    ]
    return "\n".join(lines)


def model_card_html(markdown: str, title: str) -> str:
    """Render the card; raw HTML in any text is escaped, not passed through."""
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
        "code{background:#f4f4f4}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{style}</style></head>\n<body>\n{body}</body></html>\n"
    )


# ---------------------------------------------------------------------------- bundle


def _plain(v: Any) -> Any:
    """numpy scalars to Python values (for JSON)."""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def _num(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _requirements(dists: Sequence[str], optional: Sequence[str] = ()) -> str:
    lines = ["# Pinned versions this bundle was exported and checked with."]
    lines += [f"{d}=={_version(d)}" for d in dists if _version(d)]
    for d in optional:
        if _version(d):
            lines.append(f"{d}=={_version(d)}  # optional: full JSON Schema validation")
    return "\n".join(lines) + "\n"


def _rows_json(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append({str(k): (None if _isnan(v) else _plain(v)) for k, v in rec.items()})
    return rows


def _sample(frame: pd.DataFrame, n: int, schema: Mapping[str, Any]) -> pd.DataFrame:
    """The first ``n`` rows that satisfy the schema's enforced ranges (all rows qualify when
    ranges are not enforced)."""
    import pandas as pd

    keep = pd.Series(True, index=frame.index)
    for col, prop in schema["properties"].items():
        if "minimum" in prop:
            keep &= frame[col].isna() | frame[col].between(prop["minimum"], prop["maximum"])
    return frame[keep].head(n)


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


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
    :func:`check_evaluation`); ``metrics`` default to its ``metrics``. ``lineage`` may carry
    ``run_ids`` (stage -> run id), ``notebook_hash``, ``git_commit``, ``git_dirty``,
    ``data_versions`` (list of ``name@version``) and ``params``.
    Raises :class:`GateFailed` (evaluation, parity) before anything is written.
    """
    import skops.io as sio

    from nbtrail.practices import models

    verdicts = check_evaluation(evaluation, model=f"{name}@{version}", required=required_verdicts)
    if list(holdout_features.columns) != list(train_features.columns):
        raise DataError("holdout and training features differ in columns or order")
    onnx_bytes, spec = to_onnx(model, train_features)
    parity = check_parity(model, onnx_bytes, holdout_features, spec, tolerance=tolerance)
    skops_bytes = sio.dumps(model)
    models.loads_model(skops_bytes, where="model.skops")  # refuses unreviewed types now

    classes = [_plain(c) for c in model.classes_]
    metrics_doc = {
        "metrics": normalize_metrics(
            metrics if metrics is not None else (evaluation or {}).get("metrics") or {}
        ),
        "slices": [dict(s) for s in slices],
        "tests": verdicts,
        "evaluation_run": (evaluation or {}).get("run_id"),
    }
    meta = {
        "format": BUNDLE_FORMAT,
        "name": name,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_type": f"{type(model).__module__}.{type(model).__qualname__}",
        "features": [str(c) for c in train_features.columns],
        "classes": classes,
        "onnx": {"file": "model.onnx", **spec},
        "skops": {"file": "model.skops", "trusted_types": sorted(models.TRUSTED_TYPES)},
        "parity": parity,
        "intended_use": intended_use,
        "lineage": dict(lineage or {}),
    }
    card = model_card_markdown(meta, metrics_doc)
    schema = input_schema(train_features, enforce_ranges=enforce_ranges)
    files: dict[str, bytes] = {
        "model.onnx": onnx_bytes,
        "model.skops": skops_bytes,
        "input_schema.json": _json(schema),
        "output_schema.json": _json(output_schema(classes)),
        "metrics.json": _json(metrics_doc),
        "bundle.json": _json(meta),
        "model_card.md": card.encode(),
        "model_card.html": model_card_html(card, f"{name} v{version}").encode(),
        "requirements-onnx.txt": _requirements(["onnxruntime", "numpy"], ["jsonschema"]).encode(),
        "requirements-skops.txt": _requirements(
            ["skops", "scikit-learn", "scipy", "numpy"], ["jsonschema"]
        ).encode(),
        "sample_rows.json": _json(_rows_json(_sample(holdout_features, sample_rows, schema))),
        "load_bundle.py": LOADER.encode(),
    }
    return _write_folder(Path(dest), files, overwrite=overwrite)


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, default=_plain) + "\n").encode()


def _prepare_dest(dest: Path, overwrite: bool) -> None:
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())) and not overwrite:
        raise DataError(
            f"{dest} exists and is not empty",
            hint="choose a new or empty folder",
            path=str(dest),
        )


def _write_folder(dest: Path, files: Mapping[str, bytes], *, overwrite: bool) -> Bundle:
    _prepare_dest(dest, overwrite)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        for rel, data in files.items():
            atomic.write_bytes(tmp / rel, data)
        write_manifest(tmp)
        verify_bundle(tmp)
        _swap_in(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return verify_bundle(dest)


def _swap_in(tmp: Path, dest: Path) -> None:
    old = None
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def copy_bundle(
    src: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    expected_digest: str | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Verify ``src``, copy it to ``dest`` atomically, verify the copy."""
    source = verify_bundle(src, expected_digest=expected_digest)
    files = {rel: (source.path / rel).read_bytes() for rel in source.files}
    files[MANIFEST] = (source.path / MANIFEST).read_bytes()
    target = Path(dest)
    _prepare_dest(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        for rel, data in files.items():
            atomic.write_bytes(tmp / rel, data)
        verify_bundle(tmp, expected_digest=source.digest)
        _swap_in(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return verify_bundle(target, expected_digest=source.digest)


def bundle_dir(ws: Workspace, name: str, version: int) -> Path:
    """Where the export stage keeps a version's bundle: ``workspace/exports/<name>/<version>``."""
    return ws.exports_dir / name / str(version)


def export_version(ws: Workspace, ref: str, dest: str | os.PathLike[str]) -> Bundle:
    """``nbtrail export NAME@V|ALIAS DIR``: copy the verified bundle of a registered version.

    The bundle is the one the export stage wrote to ``workspace/exports/<name>/<version>``;
    when the registry recorded its digest, the copy is checked against it.
    """
    from nbtrail.practices import registry

    entry = registry.resolve(ws, ref)
    src = bundle_dir(ws, entry["name"], entry["version"])
    if not (src / MANIFEST).is_file():
        raise NotFound(
            f"no export bundle for {entry['name']}@{entry['version']} in {ws.relative(src)}",
            hint="run the export stage for this model version first",
        )
    return copy_bundle(src, dest, expected_digest=entry.get("bundle_digest"))


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


def export_from_run(
    run: Any,
    *,
    name: str,
    intended_use: str = "",
    tolerance: float = DEFAULT_TOLERANCE,
    enforce_ranges: bool = False,
    metrics_output: str = "evaluation",
    required_verdicts: str = "",
) -> Bundle:
    """What the export stage does, from its :class:`nbtrail.context.Run`.

    Refuses a failed or missing evaluation first; then registers the trained model in the
    registry (idempotent: the same bytes keep their version), builds the bundle into the
    run's ``outputs/bundle`` (parity checked on the holdout), copies it to
    ``workspace/exports/<name>/<version>``, records the bundle digest in the registry, and
    records the manifest (kind ``bundle``), the parity metric and verdict on the run.
    """
    from nbtrail.practices import registry
    from nbtrail.practices.sources import part

    try:
        evaluation = run.upstream_record("evaluate")
    except NotFound:
        evaluation = None
    check_evaluation(evaluation, model=name, required=required_verdicts)
    features = run.read_json("train", "features")
    model = run.load_model("train", "model")
    model_path = run.input_path("train", "model")
    train_rec = run.upstream_record("train")
    data_rec = run.upstream_record("data")
    snapshot = run.read_dataset("data", "snapshot")
    cols = list(features["columns"])
    train_X = part(snapshot, "train")[cols]
    holdout_X = part(snapshot, "holdout")[cols]

    metrics: Any = None
    slices: list[dict[str, Any]] = []
    if metrics_output in evaluation.get("outputs", {}):
        metrics, slices = _metrics_detail(run.read_json("evaluate", metrics_output))
    if metrics is None:
        metrics = evaluation.get("metrics") or {}

    version = registry.register_model(
        run.ws,
        name,
        artifact_path=model_path,
        digest=train_rec["outputs"]["model"]["digest"],
        run_id=train_rec["run_id"],
        metrics=evaluation.get("metrics") or {},
        verdict=True,
    )
    recs = {"data": data_rec, "train": train_rec, "evaluate": evaluation}
    data_versions = sorted(
        {
            a["ref"]
            for r in recs.values()
            for a in [*r.get("inputs", []), *r.get("outputs", {}).values()]
            if a.get("kind") == "dataset" and a.get("ref")
        }
    )
    lineage = {
        "run_ids": {**{k: r["run_id"] for k, r in recs.items()}, "export": run.run_id},
        "notebook_hash": {k: r["notebook"]["hash"] for k, r in recs.items()},
        "git_commit": train_rec["git"]["commit"],
        "git_dirty": train_rec["git"]["dirty"],
        "data_versions": data_versions,
        "params": {"train": json.dumps(train_rec.get("params", {}), sort_keys=True)},
        "model_digest_blake3": train_rec["outputs"]["model"]["digest"],
    }
    try:
        bundle = build_bundle(
            model,
            run.output_path("bundle"),
            name=name,
            version=version,
            train_features=train_X,
            holdout_features=holdout_X,
            evaluation=evaluation,
            metrics=metrics,
            slices=slices,
            intended_use=intended_use,
            lineage=lineage,
            tolerance=tolerance,
            enforce_ranges=enforce_ranges,
            overwrite=True,
            required_verdicts=required_verdicts,
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
    parity = bundle.meta["parity"]
    run.log_metrics({"parity_max_abs_diff": parity["max_abs_diff"]})
    run.verdict("onnx_parity", passed=True, value=parity["max_abs_diff"], bound=tolerance)
    published = copy_bundle(bundle.path, bundle_dir(run.ws, name, version), overwrite=True)
    registry.set_bundle(run.ws, name, version, published.digest)
    run.save_file("bundle", bundle.path / MANIFEST, kind="bundle")
    run.note(
        "bundle",
        {
            "model": f"{name}@{version}",
            "path": run.ws.relative(published.path),
            "manifest_sha256": published.digest,
        },
    )
    run.summarize(
        metrics=["parity_max_abs_diff"],
        lines=[f"export bundle: {run.ws.relative(published.path)} ({name}@{version})"],
    )
    return published


def smoke_test(folder: str | os.PathLike[str], *, engine: str = "onnx") -> dict[str, Any]:
    """Run the bundle's own ``load_bundle.py`` in a fresh, isolated Python (``-I``, no
    ``PYTHON*``/``NBTRAIL*`` variables, cwd outside the project) on its sample rows."""
    import subprocess
    import sys

    root = Path(folder).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NBTRAIL"))}
    proc = subprocess.run(
        [sys.executable, "-I", str(root / "load_bundle.py"), "--engine", engine],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise IntegrityError(f"{root}: load_bundle.py failed: {err}", path=str(root))
    return json.loads(proc.stdout)


# The standalone loader written into every bundle. It must run with only the Python standard
# library, numpy and onnxruntime (jsonschema optional; skops + scikit-learn for --engine skops).
LOADER = r'''#!/usr/bin/env python3
"""Load this model bundle without nbtrail: verify the manifest, validate rows, predict.

Needs numpy and onnxruntime (requirements-onnx.txt); jsonschema is used when installed,
otherwise a built-in check of the keywords input_schema.json uses. For the scikit-learn copy
of the model, install requirements-skops.txt and pass --engine skops.

    python load_bundle.py [--expect-digest SHA256] [--engine onnx|skops] [ROWS.json]

ROWS.json holds a list of objects {feature: value} (default: sample_rows.json). Prints one
JSON prediction per row. As a module: ``load_bundle.load(folder).predict_proba(rows)``.
Exit codes: 0 ok, 1 integrity failure, 2 invalid rows or usage.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from pathlib import Path

MANIFEST = "manifest.json"
IGNORED = {"__pycache__"}


class BundleError(Exception):
    """Base of this loader's errors."""


class IntegrityError(BundleError):
    """A bundle file is missing, changed or unlisted; ``file`` names it."""

    def __init__(self, message, file):
        super().__init__(message)
        self.file = file


class SchemaError(BundleError, ValueError):
    """An input row does not match input_schema.json; ``row`` and ``field`` say where."""

    def __init__(self, message, row, field=None):
        super().__init__(message)
        self.row = row
        self.field = field


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(folder, expected_digest=None):
    """Check every file against manifest.json; returns the manifest's SHA-256."""
    root = Path(folder)
    raw = (root / MANIFEST).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if expected_digest and digest != expected_digest:
        raise IntegrityError(f"{MANIFEST} does not match the expected digest", MANIFEST)
    manifest = json.loads(raw)
    if manifest.get("algorithm") != "sha256":
        raise IntegrityError(f"{MANIFEST}: unknown algorithm", MANIFEST)
    listed = manifest["files"]
    for rel, entry in sorted(listed.items()):
        p = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or not p.is_file():
            raise IntegrityError(f"bundle file {rel} is missing", rel)
        if _sha256(p) != entry["sha256"]:
            raise IntegrityError(f"bundle file {rel} does not match its manifest hash", rel)
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not (set(rel.parts) & IGNORED) and rel.as_posix() != MANIFEST:
            if rel.as_posix() not in listed:
                raise IntegrityError(f"bundle file {rel.as_posix()} is not in the manifest",
                                     rel.as_posix())
    return digest


_TYPES = {
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check_row(schema, row, i):
    if not isinstance(row, dict):
        raise SchemaError(f"row {i}: expected an object, got {type(row).__name__}", i)
    props = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in row:
            raise SchemaError(f"row {i}: missing required field {name!r}", i, name)
    if schema.get("additionalProperties") is False:
        for name in row:
            if name not in props:
                raise SchemaError(f"row {i}: unexpected field {name!r}", i, name)
    for name, value in row.items():
        p = props.get(name, {})
        types = p.get("type", [])
        types = [types] if isinstance(types, str) else types
        if types and not any(_TYPES[t](value) for t in types):
            raise SchemaError(f"row {i}: field {name!r} = {value!r} is not {types}", i, name)
        if "enum" in p and value not in p["enum"]:
            raise SchemaError(f"row {i}: field {name!r} = {value!r} is not one of the "
                              "training values", i, name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if isinstance(value, float) and not math.isfinite(value):
                raise SchemaError(f"row {i}: field {name!r} is not a finite number", i, name)
            if "minimum" in p and value < p["minimum"]:
                raise SchemaError(f"row {i}: field {name!r} = {value!r} is below the training "
                                  f"minimum {p['minimum']}", i, name)
            if "maximum" in p and value > p["maximum"]:
                raise SchemaError(f"row {i}: field {name!r} = {value!r} is above the training "
                                  f"maximum {p['maximum']}", i, name)


def validate_rows(schema, rows):
    """Raise SchemaError naming the first bad row and field (jsonschema when installed)."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    for i, row in enumerate(rows):
        if jsonschema is not None:
            err = jsonschema.exceptions.best_match(
                jsonschema.Draft202012Validator(schema).iter_errors(row))
            if err is not None:
                field = err.path[0] if err.path else None
                where = f"field {field!r}: " if field is not None else ""
                raise SchemaError(f"row {i}: {where}{err.message}", i, field)
        _check_row(schema, row, i)  # also refuses NaN/inf, which JSON Schema lets through


class Model:
    """A verified bundle ready to predict on rows (lists of {feature: value})."""

    def __init__(self, folder, engine="onnx", digest=None):
        self.folder = Path(folder)
        self.digest = digest
        self.meta = json.loads((self.folder / "bundle.json").read_text())
        self.input_schema = json.loads((self.folder / "input_schema.json").read_text())
        self.output_schema = json.loads((self.folder / "output_schema.json").read_text())
        self.features = self.meta["features"]
        self.classes = self.meta["classes"]
        self.engine = engine
        if engine == "onnx":
            import onnxruntime as ort

            self._session = ort.InferenceSession(
                str(self.folder / self.meta["onnx"]["file"]), providers=["CPUExecutionProvider"])
        elif engine == "skops":
            import skops.io as sio

            path = self.folder / self.meta["skops"]["file"]
            trusted = set(self.meta["skops"]["trusted_types"])
            needed = set(sio.get_untrusted_types(file=path))
            refused = sorted(needed - trusted)
            if refused:
                raise IntegrityError(f"model.skops needs untrusted types: {refused}",
                                     "model.skops")
            self._model = sio.load(path, trusted=sorted(needed))
        else:
            raise ValueError(f"unknown engine {engine!r}")

    def validate(self, rows):
        validate_rows(self.input_schema, rows)

    def feed(self, rows):
        """The ONNX Runtime input feed for rows (missing values as NaN)."""
        import numpy as np

        spec = self.meta["onnx"]
        if spec["layout"] == "matrix":
            x = [[math.nan if r[f] is None else r[f] for f in self.features] for r in rows]
            x = np.array(x, dtype=spec["input_dtype"]).reshape(len(rows), len(self.features))
            return {spec["input"]: x}
        feed = {}
        for col, dtype in spec["inputs"].items():
            if dtype == "string":
                v = np.array([str(r[col]) for r in rows], dtype=object)
            else:
                v = np.array([math.nan if r[col] is None else r[col] for r in rows], dtype=dtype)
            feed[col] = v.reshape(-1, 1)
        return feed

    def predict_proba(self, rows, validate=True):
        """Probabilities [N, k] in the order of self.classes."""
        if validate:
            self.validate(rows)
        if self.engine == "onnx":
            return self._session.run(["probabilities"], self.feed(rows))[0]
        try:
            import pandas as pd

            x = pd.DataFrame([{f: r[f] for f in self.features} for r in rows],
                             columns=self.features)
        except ImportError:
            import numpy as np

            x = np.array([[r[f] for f in self.features] for r in rows], dtype=float)
        return self._model.predict_proba(x)

    def predict(self, rows, validate=True):
        proba = self.predict_proba(rows, validate=validate)
        return [{"label": self.classes[int(p.argmax())],
                 "probabilities": [float(v) for v in p]} for p in proba]


def load(folder, expected_digest=None, engine="onnx"):
    """Verify the bundle in ``folder`` and load its model."""
    digest = verify(folder, expected_digest)
    return Model(folder, engine=engine, digest=digest)


def main(argv=None):
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description="Verify this bundle, validate rows, predict.")
    ap.add_argument("rows", nargs="?", default=str(here / "sample_rows.json"))
    ap.add_argument("--bundle", default=str(here), help="bundle folder (default: this one)")
    ap.add_argument("--expect-digest", default=None, help="SHA-256 of manifest.json")
    ap.add_argument("--engine", choices=["onnx", "skops"], default="onnx")
    args = ap.parse_args(argv)
    try:
        model = load(args.bundle, args.expect_digest, engine=args.engine)
        rows = json.loads(Path(args.rows).read_text())
        out = model.predict(rows)
    except IntegrityError as exc:
        print(f"load_bundle: refused: {exc}", file=sys.stderr)
        return 1
    except SchemaError as exc:
        print(f"load_bundle: invalid input: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"digest": model.digest, "engine": args.engine, "predictions": out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''
