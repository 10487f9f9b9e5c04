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

One concept a module:

    refusal.py      no bundle without a completed evaluation whose verdicts passed
    schemas.py      the input and output JSON Schemas
    onnx_model.py   conversion with skl2onnx, input layouts, the ONNX Runtime feed
    parity.py       ONNX Runtime against scikit-learn on the holdout
    metrics.py      metrics.json (metrics with intervals, slices, tests)
    model_card.py   the model card, Markdown and HTML
    build.py        the checks, then every file of the bundle
    bundle.py       a bundle folder: written atomically, verified, copied, exported
    loader.py       load_bundle.py's source and the smoke test that runs it
    load_bundle.py  the standalone loader itself, copied into every bundle
    jsonvalues.py   values as the JSON files hold them

The manifest itself is written and checked by :mod:`nbtrail.core.manifest` (the registry checks
bundles there too, without importing this package). The export *stage* (reading the upstream
runs, registering, publishing, recording) is :mod:`nbtrail.stages.export`.
"""

from nbtrail.core.manifest import MANIFEST, write_manifest
from nbtrail.practices.export.build import build_bundle, write_bundle
from nbtrail.practices.export.bundle import (
    BUNDLE_FORMAT,
    Bundle,
    bundle_dir,
    copy_bundle,
    export_version,
    verify_bundle,
)
from nbtrail.practices.export.loader import loader_source, smoke_test
from nbtrail.practices.export.metrics import normalize_metrics
from nbtrail.practices.export.model_card import model_card_html, model_card_markdown
from nbtrail.practices.export.onnx_model import ONNX_INPUT, onnx_feed, onnx_predict_proba, to_onnx
from nbtrail.practices.export.parity import DEFAULT_TOLERANCE, check_parity
from nbtrail.practices.export.refusal import check_evaluation
from nbtrail.practices.export.schemas import (
    MAX_ENUM,
    input_schema,
    output_schema,
    output_schema_for,
    regression_output_schema,
)

__all__ = [
    "BUNDLE_FORMAT",
    "DEFAULT_TOLERANCE",
    "MANIFEST",
    "MAX_ENUM",
    "ONNX_INPUT",
    "Bundle",
    "build_bundle",
    "bundle_dir",
    "check_evaluation",
    "check_parity",
    "copy_bundle",
    "export_version",
    "input_schema",
    "loader_source",
    "model_card_html",
    "model_card_markdown",
    "normalize_metrics",
    "onnx_feed",
    "onnx_predict_proba",
    "output_schema",
    "output_schema_for",
    "regression_output_schema",
    "smoke_test",
    "to_onnx",
    "verify_bundle",
    "write_bundle",
    "write_manifest",
]
