"""OpenLineage run events for stage runs: START, then COMPLETE, FAIL or ABORT.

Each event names the job (the stage), the run (a UUID derived from the nbtrail run id, so the
START and the final event of one run share it) and the datasets the run read and wrote, with
standard facets (dataset version, data source, job type, source code location, error message)
and an ``nbtrail`` run facet carrying the run id, parameters, fingerprint and metrics.

Events are appended as JSON lines to ``workspace/openlineage/events.jsonl`` and, when an
endpoint is configured, POSTed to it (the OpenLineage HTTP transport's URL layout). The
settings follow the OpenLineage client's environment variables::

    OPENLINEAGE_URL        e.g. http://127.0.0.1:5000 (unset: no HTTP)
    OPENLINEAGE_ENDPOINT   path below the URL (default api/v1/lineage)
    OPENLINEAGE_API_KEY    sent as a bearer token
    OPENLINEAGE_NAMESPACE  job and dataset namespace (default nbtrail)
    OPENLINEAGE_DISABLED   true: emit nothing

Emitting never fails a run: transport problems are returned as text for the runner to print.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.runs import records

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "urn:nbtrail:0.1.0"
NBTRAIL_FACET_URL = "urn:nbtrail:schemas:run-record.v1"
_FACETS = "https://openlineage.io/spec/facets"
_FACET_URLS = {
    "version": f"{_FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "dataSource": f"{_FACETS}/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet",
    "errorMessage": f"{_FACETS}/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet",
    "jobType": f"{_FACETS}/2-0-4/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "sourceCodeLocation": (
        f"{_FACETS}/1-1-0/SourceCodeLocationJobFacet.json#/$defs/SourceCodeLocationJobFacet"
    ),
}
_RUN_UUID_NS = uuid.UUID("8f4a3c2e-1b7d-4e59-9a06-5c3d2b1e0f47")
EVENT_TYPES = {
    "running": "START",
    "completed": "COMPLETE",
    "cached": "COMPLETE",
    "failed": "FAIL",
    "interrupted": "ABORT",
}


@dataclass(frozen=True)
class Config:
    """Where events go. ``file`` None: no file; ``url`` None: no HTTP."""

    file: Path | None
    url: str | None = None
    endpoint: str = "api/v1/lineage"
    api_key: str | None = None
    namespace: str = "nbtrail"
    timeout_s: float = 5.0
    disabled: bool = False

    @property
    def http_target(self) -> str | None:
        if not self.url:
            return None
        return self.url.rstrip("/") + "/" + self.endpoint.lstrip("/")


def default_file(ws: Workspace) -> Path:
    return ws.workspace_dir / "openlineage" / "events.jsonl"


def config(ws: Workspace, environ: Mapping[str, str] | None = None) -> Config:
    """Settings from the environment (see the module docstring); the file is on by default."""
    env = os.environ if environ is None else environ
    return Config(
        file=default_file(ws),
        url=env.get("OPENLINEAGE_URL") or None,
        endpoint=env.get("OPENLINEAGE_ENDPOINT") or "api/v1/lineage",
        api_key=env.get("OPENLINEAGE_API_KEY") or None,
        namespace=env.get("OPENLINEAGE_NAMESPACE") or "nbtrail",
        disabled=env.get("OPENLINEAGE_DISABLED", "").lower() in ("1", "true", "yes"),
    )


def run_uuid(run_id: str) -> str:
    """The OpenLineage runId of an nbtrail run (stable: derived from the run id)."""
    return str(uuid.uuid5(_RUN_UUID_NS, run_id))


def _facet(facet: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": _FACET_URLS[facet], **fields}


def _dataset(ws: Workspace, art: Mapping[str, Any], run_id: str, namespace: str) -> dict[str, Any]:
    if art.get("kind") == "dataset" and art.get("ref"):
        name, _, version = art["ref"].partition("@")
        ds_name, ds_version = f"datasets/{name}", version
    elif art.get("path"):
        ds_name, ds_version = art["path"], art["digest"]
    else:
        ds_name, ds_version = f"runs/{art.get('run_id') or run_id}/{art['name']}", art["digest"]
    return {
        "namespace": namespace,
        "name": ds_name,
        "facets": {
            "version": _facet("version", datasetVersion=str(ds_version)),
            "dataSource": _facet("dataSource", name=namespace, uri=ws.root.resolve().as_uri()),
        },
    }


def run_event(
    ws: Workspace,
    record: Mapping[str, Any],
    event_type: str | None = None,
    *,
    namespace: str = "nbtrail",
) -> dict[str, Any]:
    """The OpenLineage RunEvent for ``record`` (event type from its status unless given)."""
    status = record["status"]
    etype = event_type or EVENT_TYPES.get(status, "OTHER")
    when = record["started"] if etype == "START" else (record.get("ended") or records.now())
    run_facets: dict[str, Any] = {
        "nbtrail": {
            "_producer": PRODUCER,
            "_schemaURL": NBTRAIL_FACET_URL,
            "runId": record["run_id"],
            "stage": record["stage"],
            "origin": record["origin"],
            "status": status,
            "params": record["params"],
            "fingerprint": record.get("fingerprint"),
            "cachedFrom": record.get("cached_from"),
            "metrics": record["metrics"],
            "gitCommit": record["git"].get("commit"),
            "notebookHash": record["notebook"].get("hash"),
        }
    }
    err = record.get("error")
    if etype == "FAIL" and err:
        run_facets["errorMessage"] = _facet(
            "errorMessage",
            message=f"{err['ename']}: {err['evalue']}",
            programmingLanguage="PYTHON",
        )
    nb_path = record["notebook"].get("path") or ""
    job_facets: dict[str, Any] = {
        "jobType": _facet(
            "jobType", processingType="BATCH", integration="NBTRAIL", jobType="NOTEBOOK"
        )
    }
    if nb_path:
        code = {"type": "git", "url": (ws.root / nb_path).resolve().as_uri(), "path": nb_path}
        if record["git"].get("commit"):
            code["version"] = record["git"]["commit"]
        job_facets["sourceCodeLocation"] = _facet("sourceCodeLocation", **code)
    rid = record["run_id"]
    return {
        "eventType": etype,
        "eventTime": when,
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_uuid(rid), "facets": run_facets},
        "job": {"namespace": namespace, "name": record["stage"], "facets": job_facets},
        "inputs": [_dataset(ws, a, rid, namespace) for a in record["inputs"]],
        "outputs": [_dataset(ws, a, rid, namespace) for a in record["outputs"].values()],
    }


def _append(path: Path, event: dict[str, Any]) -> None:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(event, sort_keys=True, default=str) + "\n").encode()
    with FileLock(str(path) + ".lock", timeout=30):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def _post(cfg: Config, event: dict[str, Any]) -> str | None:
    from nbtrail.core.webhook import post_json

    target = cfg.http_target
    assert target is not None
    headers = {"Authorization": f"Bearer {cfg.api_key}"} if cfg.api_key else {}
    sent = post_json(target, event, headers=headers, timeout_s=cfg.timeout_s, retries=0)
    if sent.ok:
        return None
    if sent.unreachable:
        return f"OpenLineage endpoint {target} {sent.error}"
    return f"OpenLineage endpoint {target} answered {str(sent.error).removeprefix('HTTP ')}"


def emit(ws: Workspace, event: dict[str, Any], cfg: Config | None = None) -> list[str]:
    """Write ``event`` to the events file and POST it when configured; returns problems."""
    cfg = cfg or config(ws)
    if cfg.disabled:
        return []
    problems = []
    if cfg.file is not None:
        try:
            _append(cfg.file, event)
        except OSError as exc:
            problems.append(f"cannot append OpenLineage event to {cfg.file}: {exc}")
    if cfg.url:
        problem = _post(cfg, event)
        if problem:
            problems.append(problem)
    return problems


def emit_run(
    ws: Workspace,
    record: Mapping[str, Any],
    event_type: str | None = None,
    cfg: Config | None = None,
) -> list[str]:
    """Emit the event for a run record's current state (START when ``running``)."""
    cfg = cfg or config(ws)
    return emit(ws, run_event(ws, record, event_type, namespace=cfg.namespace), cfg)


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events in a JSONL file, oldest first."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
