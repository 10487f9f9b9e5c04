"""The model registry: versions of named models, aliases, and the append-only alias history.

The record of truth is ``workspace/registry/events.jsonl``: one JSON line per event
(``version`` registered, ``alias`` moved, export ``bundle`` recorded), appended under an
exclusive lock with one write and an fsync (:func:`nbtrail.core.applog.log_writer`).
``workspace/index.sqlite`` holds a cache of it (through :func:`nbtrail.core.db.connect`): every
read first replays the lines past the byte offset it applied (a :class:`~nbtrail.core.applog.LogCache`), so deleting
the index loses nothing, and :func:`rebuild` (``nbtrail index rebuild``) re-derives it whole.
A workspace from before the log has its tables copied into a new log on first use.

The cache has two tables:

``registry_versions``
    one row per model version: ``name``, ``version`` (1, 2, ... per name), ``digest``
    (nbtrail's BLAKE3 of the artifact file, as run records store it), ``artifact_path``
    (relative to the workspace root), ``run_id`` of the run that produced it, evaluation
    ``metrics`` (JSON) and ``verdict`` (``passed``/``failed``/``unknown``), ``created``, and
    ``bundle_digest`` (SHA-256 of the export bundle's manifest, once exported).
``registry_alias_events``
    every alias move: ``at`` (UTC ISO time), ``name``, ``alias``, ``from_version`` (NULL for a
    first assignment), ``to_version``, ``reason``. SQLite triggers refuse UPDATE and DELETE,
    so the history is append-only; an alias's holder at any time is the last event before it.

Public API (what the stages and the CLI call)::

    register_model(ws, name, *, artifact_path, digest, run_id, metrics, verdict) -> int
    promote(ws, name, version, alias, reason) -> dict        # the event, or the no-op state
    resolve(ws, "name@alias" | "name@3" | "name@latest" | "name") -> dict
    alias_at(ws, name, alias, when) -> int | None
    history(ws, name, *, at=None) -> list[dict]
    list_versions(ws, name=None) -> list[dict]
    set_bundle(ws, name, version, bundle_digest) -> None
    rebuild(ws) -> int                                       # events replayed into the index

The package: :mod:`.cache` (the index tables as a cache of the log), :mod:`.versions`
(register, check, list) and :mod:`.aliases` (promote, resolve, history). A version's export
bundle is checked with :mod:`nbtrail.core.manifest`; the registry never imports the export
practice (which imports it).
"""

from nbtrail.practices.registry.aliases import (
    alias_at,
    as_timestamp,
    history,
    parse_ref,
    promote,
    resolve,
)
from nbtrail.practices.registry.cache import rebuild
from nbtrail.practices.registry.versions import (
    VERDICTS,
    find_by_digest,
    list_versions,
    register_model,
    set_bundle,
    verify_artifact,
)

__all__ = [
    "VERDICTS",
    "alias_at",
    "as_timestamp",
    "find_by_digest",
    "history",
    "list_versions",
    "parse_ref",
    "promote",
    "rebuild",
    "register_model",
    "resolve",
    "set_bundle",
    "verify_artifact",
]
