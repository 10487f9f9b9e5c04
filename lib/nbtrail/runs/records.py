"""Run records: one JSON file per stage execution, schema-versioned and validated on write.

``workspace/runs/<run_id>/record.json`` is the source of truth; the SQLite index is derived
from these files. A record is written atomically, so a reader sees the old or the new
version, never half of one. A record left ``running`` by a process that no longer exists
reads as ``interrupted``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from nbtrail.core.errors import NotFound, RecordInvalid
from nbtrail.core.processes import pid_alive
from nbtrail.core.workspace import Workspace
from nbtrail.runs.record_types import Environment, GitState, Origin, RunRecord, Status

SCHEMA_VERSION = 1
RECORD_FILE = "record.json"


@cache
def _schema() -> dict[str, Any]:  # cached per process: the schema file is immutable package data
    from importlib import resources

    text = resources.files("nbtrail").joinpath("schemas/run-record.v1.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Any:
    """jsonschema's validator: the authority, and the one that words the problem."""
    import jsonschema

    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def _fast_validator() -> Any:
    """The same schema compiled to Python by fastjsonschema (about 50x faster per record).

    The schema only uses keywords that mean the same in draft 7 and 2020-12, so it is compiled
    as draft 7; its relative ``$id`` is dropped, or fastjsonschema resolves the local ``$ref``
    against it as a URL and tries to fetch it.
    """
    import fastjsonschema

    schema = {k: v for k, v in _schema().items() if k != "$id"}
    schema["$schema"] = "http://json-schema.org/draft-07/schema#"
    return fastjsonschema.compile(schema, handlers={}, use_formats=False)


def validate(record: Mapping[str, Any], *, where: str = "run record") -> None:
    """Raise :class:`RecordInvalid` naming the first problem found.

    The compiled validator decides quickly for a valid record; only a record it refuses is
    checked again by jsonschema, which words the problem (and has the last word).
    """
    try:
        _fast_validator()(record)
    except Exception:  # fastjsonschema.JsonSchemaException, or a type it did not expect
        errors = sorted(_validator().iter_errors(record), key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            field = "/".join(str(p) for p in e.absolute_path) or "(top level)"
            raise RecordInvalid(f"{where}: invalid at {field}: {e.message}") from None
    newer = record.get("schema_version")
    if isinstance(newer, int) and newer > SCHEMA_VERSION:
        raise RecordInvalid(f"{where}: schema version {newer} is newer than this nbtrail reads")


_SHAPE: dict[str, type] = {
    "run_id": str,
    "stage": str,
    "origin": str,
    "status": str,
    "started": str,
    "params": dict,
    "notebook": dict,
    "upstream": dict,
    "inputs": list,
    "outputs": dict,
    "metrics": dict,
    "git": dict,
    "environment": dict,
}
_STATUSES = frozenset({"running", "completed", "failed", "interrupted", "cached"})


def check_shape(record: Mapping[str, Any], *, where: str = "run record") -> None:
    """The cheap check of a record already validated once: the fields the index reads are
    there with their types (:func:`validate` checks everything, ~50x slower)."""
    for key, kind in _SHAPE.items():
        if not isinstance(record.get(key), kind):
            raise RecordInvalid(f"{where}: invalid at {key}: missing or not a {kind.__name__}")
    if record["status"] not in _STATUSES:
        raise RecordInvalid(f"{where}: invalid at status: {record['status']!r}")
    if record.get("schema_version") != SCHEMA_VERSION:
        raise RecordInvalid(f"{where}: invalid at schema_version: {record.get('schema_version')}")
    arts = [*record["inputs"], *record["outputs"].values()]
    if not all(isinstance(a, dict) and {"name", "kind", "digest"} <= a.keys() for a in arts):
        raise RecordInvalid(f"{where}: invalid at inputs/outputs: an artifact lacks its keys")
    metrics = record["metrics"].values()
    if not all(
        m is None or (isinstance(m, int | float) and not isinstance(m, bool)) for m in metrics
    ):
        raise RecordInvalid(f"{where}: invalid at metrics: a value is not a number")
    err = record.get("error")
    if err is not None and not (isinstance(err, dict) and {"ename", "evalue"} <= err.keys()):
        raise RecordInvalid(f"{where}: invalid at error: not an object with ename and evalue")


def now() -> str:
    """The current UTC time, ISO 8601 to the millisecond."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def new_run_id(stage: str) -> str:
    """A fresh run id: ``<stage>-<UTC stamp>-<6 hex digits>``."""
    import secrets  # (hmac and hashlib: not for a process that only reads the index)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stage}-{stamp}-{secrets.token_hex(3)}"


def write(ws: Workspace, record: RunRecord) -> Path:
    """Validate, then atomically write the record into its run folder."""
    from nbtrail.core import atomic  # (tempfile: not for a process that only reads the index)

    validate(record, where=f"run {record.get('run_id')}")
    path = ws.run_dir(record["run_id"]) / RECORD_FILE
    atomic.write_json(path, record)
    return path


def effective_status(record: Mapping[str, Any]) -> Status:
    """``running`` records whose process is gone read as ``interrupted``."""
    status: Status = record.get("status", "failed")
    if status == "running" and not pid_alive(record.get("pid")):
        return "interrupted"
    return status


def load(ws: Workspace, run_id: str) -> RunRecord:
    """The record of ``run_id``; :class:`NotFound` when there is no such run."""
    path = ws.run_dir(run_id) / RECORD_FILE
    if "/" in run_id or run_id.startswith(".") or not path.is_file():
        raise NotFound(f"no run {run_id!r}", hint="see `nbtrail runs`")
    rec: RunRecord = json.loads(path.read_text())
    rec["status"] = effective_status(rec)
    return rec


def iter_records(ws: Workspace) -> Iterator[tuple[Path, RunRecord | None, str | None]]:
    """Every run folder as (path, record or None, problem or None); never raises on bad files."""
    if not ws.runs_dir.is_dir():
        return
    for folder in sorted(ws.runs_dir.iterdir()):
        f = folder / RECORD_FILE
        if not f.is_file():
            continue
        try:
            rec = json.loads(f.read_text())
            validate(rec, where=f"{ws.relative(f)}")
        except (ValueError, OSError) as exc:
            yield f, None, str(exc).splitlines()[0]
            continue
        rec["status"] = effective_status(rec)
        yield f, rec, None


def notebook_hashes(path: Path) -> dict[str, str]:
    """``hash`` of the file's bytes and ``code_hash`` of its code cells' sources only."""
    from nbtrail.core.hashing import hash_bytes

    raw = path.read_bytes()
    nb = json.loads(raw)
    code = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    ]
    return {"hash": hash_bytes(raw), "code_hash": hash_bytes("\n\x00\n".join(code).encode())}


def new_record(
    ws: Workspace,
    *,
    run_id: str,
    stage: str,
    origin: Origin,
    params: dict[str, Any],
    notebook: Path,
    upstream: dict[str, str],
    pid: int | None,
    git: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
) -> RunRecord:
    """A fresh ``running`` record with provenance filled in."""
    from nbtrail.core import provenance

    hashes = notebook_hashes(notebook)
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "stage": stage,
        "origin": origin,
        "status": "running",
        "params": params,
        "notebook": {
            "path": ws.relative(notebook),
            "hash": hashes["hash"],
            "code_hash": hashes["code_hash"],
            "executed": None,
        },
        "upstream": dict(upstream),
        "inputs": [],
        "outputs": {},
        "metrics": {},
        "verdicts": {},
        "fingerprint": None,
        "cached_from": None,
        "reproduces": None,
        "git": cast(GitState, git if git is not None else provenance.git_state(ws.root)),
        "environment": cast(
            Environment,
            environment if environment is not None else provenance.environment(ws.lock_file),
        ),
        "started": now(),
        "ended": None,
        "duration_s": None,
        "pid": pid,
        "error": None,
        "extra": {},
    }
