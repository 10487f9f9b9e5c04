#!/usr/bin/env python3
"""Load this model bundle without nbtrail: verify the manifest, validate rows, predict.

Needs numpy and onnxruntime (requirements-onnx.txt); jsonschema is used when installed,
otherwise a built-in check of the keywords input_schema.json uses. For the scikit-learn copy
of the model, install requirements-skops.txt and pass --engine skops.

    python load_bundle.py [--expect-digest SHA256] [--engine onnx|skops] [ROWS.json]

ROWS.json holds a list of objects {feature: value} (default: sample_rows.json). Prints one
JSON prediction per row. As a module: ``load_bundle.load(folder).predict_proba(rows)``.
Exit codes: 0 ok, 1 integrity failure, 2 invalid rows or usage.
"""

# This file is copied as it is into every export bundle, where it runs in a fresh Python
# without nbtrail: it may import only the standard library, numpy and onnxruntime (jsonschema
# when installed; skops, scikit-learn and pandas for --engine skops). It checks the manifest
# itself, as nbtrail.core.manifest does inside nbtrail; tests/test_export.py holds both
# checks to the same verdicts.

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
IGNORED = {"__pycache__"}

Row = dict[str, Any]


class BundleError(Exception):
    """Base of this loader's errors."""


class IntegrityError(BundleError):
    """A bundle file is missing, changed or unlisted; ``file`` names it."""

    def __init__(self, message: str, file: str) -> None:
        super().__init__(message)
        self.file = file

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.file))


class SchemaError(BundleError, ValueError):
    """An input row does not match input_schema.json; ``row`` and ``field`` say where."""

    def __init__(self, message: str, row: int, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.row, self.field))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(folder: str | Path, expected_digest: str | None = None) -> str:
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
        if sha256_file(p) != entry["sha256"]:
            raise IntegrityError(f"bundle file {rel} does not match its manifest hash", rel)
    for p in sorted(root.rglob("*")):
        rel_path = p.relative_to(root)
        rel = rel_path.as_posix()
        if p.is_file() and not (set(rel_path.parts) & IGNORED) and rel != MANIFEST:
            if rel not in listed:
                raise IntegrityError(f"bundle file {rel} is not in the manifest", rel)
    return digest


def _is_integer(v: Any) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (
        isinstance(v, float) and v.is_integer()
    )


_TYPES: dict[str, Callable[[Any], bool]] = {
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": _is_integer,
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _check_range(p: dict[str, Any], name: str, value: float, i: int) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaError(f"row {i}: field {name!r} is not a finite number", i, name)
    if "minimum" in p and value < p["minimum"]:
        raise SchemaError(
            f"row {i}: field {name!r} = {value!r} is below the training minimum {p['minimum']}",
            i,
            name,
        )
    if "maximum" in p and value > p["maximum"]:
        raise SchemaError(
            f"row {i}: field {name!r} = {value!r} is above the training maximum {p['maximum']}",
            i,
            name,
        )


def _check_row(schema: dict[str, Any], row: Any, i: int) -> None:
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
            raise SchemaError(
                f"row {i}: field {name!r} = {value!r} is not one of the training values", i, name
            )
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _check_range(p, name, value, i)


def validate_rows(schema: dict[str, Any], rows: Sequence[Any]) -> None:
    """Raise SchemaError naming the first bad row and field (jsonschema when installed)."""
    try:
        import jsonschema
    except ImportError:
        jsonschema = None
    for i, row in enumerate(rows):
        if jsonschema is not None:
            err = jsonschema.exceptions.best_match(
                jsonschema.Draft202012Validator(schema).iter_errors(row)
            )
            if err is not None:
                field = err.path[0] if err.path else None
                where = f"field {field!r}: " if field is not None else ""
                raise SchemaError(f"row {i}: {where}{err.message}", i, field)
        _check_row(schema, row, i)  # also refuses NaN/inf, which JSON Schema lets through


class Model:
    """A verified bundle ready to predict on rows (lists of {feature: value})."""

    def __init__(self, folder: str | Path, engine: str = "onnx", digest: str | None = None) -> None:
        self.folder = Path(folder)
        self.digest = digest
        self.meta = json.loads((self.folder / "bundle.json").read_text())
        self.input_schema = json.loads((self.folder / "input_schema.json").read_text())
        self.output_schema = json.loads((self.folder / "output_schema.json").read_text())
        self.features: list[str] = self.meta["features"]
        self.classes: list[Any] = self.meta["classes"]
        self.task: str = self.meta.get("task", "classification")
        self.engine = engine
        if engine == "onnx":
            import onnxruntime as ort

            self._session = ort.InferenceSession(
                str(self.folder / self.meta["onnx"]["file"]), providers=["CPUExecutionProvider"]
            )
        elif engine == "skops":
            import skops.io as sio

            path = self.folder / self.meta["skops"]["file"]
            trusted = set(self.meta["skops"]["trusted_types"])
            needed = set(sio.get_untrusted_types(file=path))
            refused = sorted(needed - trusted)
            if refused:
                raise IntegrityError(f"model.skops needs untrusted types: {refused}", "model.skops")
            self._model = sio.load(path, trusted=sorted(needed))
        else:
            raise ValueError(f"unknown engine {engine!r}")

    def validate(self, rows: Sequence[Any]) -> None:
        """Raise SchemaError naming the first row and field that input_schema.json refuses."""
        validate_rows(self.input_schema, rows)

    def feed(self, rows: Sequence[Row]) -> dict[str, Any]:
        """The ONNX Runtime input feed for rows (missing values as NaN)."""
        import numpy as np

        spec = self.meta["onnx"]
        if spec["layout"] == "matrix":
            x = [[math.nan if r[f] is None else r[f] for f in self.features] for r in rows]
            matrix = np.array(x, dtype=spec["input_dtype"])
            return {spec["input"]: matrix.reshape(len(rows), len(self.features))}
        names = spec.get("names", {})  # graph inputs skl2onnx renamed ("a/b" -> "a_b")
        feed = {}
        for col, dtype in spec["inputs"].items():
            if dtype == "string":
                v = np.array([str(r[col]) for r in rows], dtype=object)
            else:
                v = np.array([math.nan if r[col] is None else r[col] for r in rows], dtype=dtype)
            feed[names.get(col, col)] = v.reshape(-1, 1)
        return feed

    def predict_proba(self, rows: Sequence[Row], validate: bool = True) -> Any:
        """Probabilities [N, k] in the order of self.classes (classifiers only)."""
        if self.task != "classification":
            raise ValueError("a regression bundle predicts values: use predict()")
        return self._raw(rows, validate, "predict_proba")

    def predict_values(self, rows: Sequence[Row], validate: bool = True) -> Any:
        """Predicted values [N] (regressors only)."""
        if self.task != "regression":
            raise ValueError("a classification bundle predicts classes: use predict_proba()")
        return self._raw(rows, validate, "predict").reshape(-1)

    def _raw(self, rows: Sequence[Row], validate: bool, method: str) -> Any:
        import numpy as np

        if validate:
            self.validate(rows)
        if self.engine == "onnx":
            output = self.meta["onnx"].get("output", "probabilities")
            return self._session.run([output], self.feed(rows))[0]
        try:
            import pandas as pd

            x: Any = pd.DataFrame(
                [{f: r[f] for f in self.features} for r in rows], columns=self.features
            )
        except ImportError:
            x = np.array([[r[f] for f in self.features] for r in rows], dtype=float)
        return np.asarray(getattr(self._model, method)(x))

    def predict(self, rows: Sequence[Row], validate: bool = True) -> list[dict[str, Any]]:
        """One ``{"label", "probabilities"}`` per row (``{"prediction"}`` for a regressor)."""
        if self.task == "regression":
            values = self.predict_values(rows, validate=validate)
            return [{"prediction": float(v)} for v in values]
        proba = self.predict_proba(rows, validate=validate)
        return [
            {"label": self.classes[int(p.argmax())], "probabilities": [float(v) for v in p]}
            for p in proba
        ]


def load(folder: str | Path, expected_digest: str | None = None, engine: str = "onnx") -> Model:
    """Verify the bundle in ``folder`` and load its model."""
    digest = verify(folder, expected_digest)
    return Model(folder, engine=engine, digest=digest)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: verify, validate the rows, print the predictions as JSON."""
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
