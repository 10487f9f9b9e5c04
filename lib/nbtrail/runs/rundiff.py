"""Two runs side by side: parameters, data versions, code, environment, outputs and metrics."""

from __future__ import annotations

from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.record_types import RunRecord


def _pair(a: Any, b: Any, field_name: str) -> dict[str, Any]:
    return {"field": field_name, "a": a, "b": b, "same": a == b}


def _data_inputs(rec: RunRecord) -> dict[str, Any]:
    out = {}
    for art in rec["inputs"]:
        key = f"{art['stage']}.{art['name']}" if art.get("stage") else art["name"]
        out[key] = (art.get("ref") or art["digest"]) if art["kind"] == "dataset" else art["digest"]
    return out


def diff(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    """Two runs side by side: parameters, data versions and inputs, notebook and code hashes
    (and the fingerprint covering the local modules), git commit, environment, outputs, the
    records' ``extra`` entries, and metrics with deltas (``b - a``)."""
    index.ensure(ws)
    ra = records.load(ws, index.resolve_run_id(ws, a, ensure_first=False))
    rb = records.load(ws, index.resolve_run_id(ws, b, ensure_first=False))

    def keyed(da: dict[str, Any], db: dict[str, Any]) -> list[dict[str, Any]]:
        return [_pair(da.get(k), db.get(k), k) for k in sorted(da.keys() | db.keys())]

    metrics = []
    for k in sorted(ra["metrics"].keys() | rb["metrics"].keys()):
        va, vb = ra["metrics"].get(k), rb["metrics"].get(k)
        row = _pair(va, vb, k)
        row["delta"] = (
            vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        )
        metrics.append(row)
    ea, eb = ra["environment"], rb["environment"]
    pa, pb = ea.get("packages", {}), eb.get("packages", {})
    return {
        "a": ra["run_id"],
        "b": rb["run_id"],
        "stage": [_pair(ra["stage"], rb["stage"], "stage")],
        "params": keyed(ra["params"], rb["params"]),
        "inputs": keyed(_data_inputs(ra), _data_inputs(rb)),
        "notebook": [
            _pair(ra["notebook"].get(k), rb["notebook"].get(k), k)
            for k in ("path", "hash", "code_hash")
        ]
        + [_pair(ra.get("fingerprint"), rb.get("fingerprint"), "fingerprint")],
        "git": [_pair(ra["git"].get(k), rb["git"].get(k), k) for k in ("commit", "dirty")],
        "environment": [
            _pair(ea.get(k), eb.get(k), k) for k in ("python", "platform", "lock_hash", "threads")
        ]
        + [r for r in keyed(pa, pb) if not r["same"]],
        "outputs": keyed(
            {k: v["digest"] for k, v in ra["outputs"].items()},
            {k: v["digest"] for k, v in rb["outputs"].items()},
        ),
        "extra": keyed(ra.get("extra", {}), rb.get("extra", {})),
        "metrics": metrics,
    }
