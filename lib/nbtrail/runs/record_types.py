"""The shape of a run record, as types: what ``schemas/run-record.v1.json`` validates.

The JSON schema is the contract on disk; these TypedDicts let mypy check the code that
builds and reads records, so a misspelt key is found before a run is.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

ArtifactKind = Literal["dataset", "model", "report", "file", "json", "bundle"]
Status = Literal["running", "completed", "failed", "interrupted", "cached"]
Origin = Literal["runner", "interactive", "reproduce"]


class Artifact(TypedDict):
    """One input or output of a run: what it is and the digest of its content."""

    name: str
    kind: ArtifactKind
    digest: str
    path: NotRequired[str | None]
    ref: NotRequired[str | None]
    stage: NotRequired[str | None]
    run_id: NotRequired[str | None]
    # An output that re-executing the run is expected to change (by design), and why;
    # absent means it must come out identical (``nbtrail reproduce``).
    reproducible: NotRequired[bool]
    reason: NotRequired[str]


class NotebookInfo(TypedDict):
    """The stage notebook a run executed: its path, byte hash, code hash and executed copy."""

    path: str
    hash: str
    code_hash: str
    executed: str | None


class GitState(TypedDict):
    """The commit the workspace was at, and whether it had uncommitted changes."""

    commit: str | None
    dirty: bool | None


class Threads(TypedDict):
    """The CPUs a run's process could use and the thread-pool variables set for its kernel."""

    cpus: int | None
    env: dict[str, str]


class Environment(TypedDict):
    """The interpreter and package versions a run used, and its thread settings."""

    python: str
    packages: dict[str, str | None]
    platform: NotRequired[str]
    lock_hash: NotRequired[str | None]
    threads: NotRequired[Threads]  # absent from records older than this field


class ErrorInfo(TypedDict):
    """Why a run failed: the exception, the failing cell and its traceback."""

    ename: str
    evalue: str
    cell: NotRequired[int | None]
    traceback: NotRequired[str]


class Verdict(TypedDict, total=False):
    """A check's outcome; ``passed`` always, then whatever facts the check records."""

    passed: bool
    value: Any
    bound: Any


class RunRecord(TypedDict):
    """One stage execution, as written to ``workspace/runs/<run_id>/record.json``."""

    schema_version: int
    run_id: str
    stage: str
    origin: Origin
    status: Status
    params: dict[str, Any]
    notebook: NotebookInfo
    upstream: dict[str, str]
    inputs: list[Artifact]
    outputs: dict[str, Artifact]
    metrics: dict[str, float | None]
    verdicts: dict[str, Verdict]
    fingerprint: NotRequired[str | None]
    cached_from: NotRequired[str | None]
    reproduces: NotRequired[str | None]
    git: GitState
    environment: Environment
    started: str
    ended: str | None
    duration_s: NotRequired[float | None]
    pid: NotRequired[int | None]
    error: ErrorInfo | None
    extra: NotRequired[dict[str, Any]]
