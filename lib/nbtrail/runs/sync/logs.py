"""The append-only logs (registry events, monitoring history) shared through a remote.

They hold what cannot be rebuilt, so they are merged, never overwritten. On the remote a log
is a set of immutable *segments*, ``logs/<log>/<UTC stamp>-<BLAKE3>.jsonl``: a push sends one
segment with the entries no segment holds yet, so two pushers never overwrite each other. A
segment whose bytes do not hash to its name is refused (:class:`IntegrityError` naming it).

An entry's identity is the BLAKE3 of its canonical line (key-sorted compact JSON), so the same
event seen on both sides is kept once. A pull appends, under the log's lock, the remote's
entries this log lacks, in the remote's order (segments by stamp), after every local entry;
the index tables replay them from the log as usual. Nothing local is ever removed.

Conflicts: the local side wins, and the remote's conflicting entries are left out (they stay
on the remote) and reported:

- registry: a ``version`` event whose model name and version number the local log gives to
  other bytes (or whose bytes the local log holds under another number); the remote's
  ``alias`` and ``bundle`` events about that version are left out with it. Alias events from
  both sides otherwise all survive; the alias points where the *latest* (by its ``at``
  time) promotion sent it, whichever side made it.
- monitoring: the entries of a run whose history both sides recorded differently (each holds
  an entry for that run the other lacks).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nbtrail.core.applog import encode_line, log_writer, read_log
from nbtrail.core.errors import IntegrityError
from nbtrail.core.hashing import hash_bytes
from nbtrail.core.workspace import Workspace
from nbtrail.data.remote_objects import read_capped, upload_bytes

Entry = dict[str, Any]
# (local entries, incoming entries, every remote entry) -> (accepted, conflicts described)
Conflicts = Callable[
    [Sequence[Entry], Sequence[Entry], Sequence[Entry]], tuple[list[Entry], list[str]]
]


@dataclass
class LogReport:
    """Entries sent (push) or appended (pull), and the conflicts left out, per log."""

    entries: int = 0
    conflicts: list[str] = field(default_factory=list)


def entry_id(entry: Mapping[str, Any]) -> str:
    """The identity of a log entry: the hash of its canonical line."""
    return hash_bytes(encode_line(entry))


def _logs(ws: Workspace) -> dict[str, tuple[Path, Conflicts]]:
    return {
        "registry": (ws.registry_log, _registry_conflicts),
        "monitoring": (ws.monitoring_log, _monitoring_conflicts),
    }


def _segments(fs: Any, root: str, log: str) -> list[str]:
    try:
        paths = fs.find(f"{root}/logs/{log}")
    except FileNotFoundError:
        return []
    return sorted(p for p in paths if p.endswith(".jsonl"))


def _read_segments(fs: Any, root: str, log: str, url: str) -> list[Entry]:
    """Every entry on the remote for ``log``, in segment order, each once."""
    seen: set[str] = set()
    out: list[Entry] = []
    for path in _segments(fs, root, log):
        name = path.rsplit("/", 1)[-1]
        data = read_capped(fs, path, url=url, what=f"log segment {log}/{name}")
        digest = name.rsplit("-", 1)[-1].removesuffix(".jsonl")
        got = hash_bytes(data)
        if got != digest:
            raise IntegrityError(
                f"remote {url}: log segment {log}/{name} is corrupted there "
                f"(its bytes hash to {got[:12]})",
                hint="delete that segment on the remote and push the log again",
                digest=digest,
            )
        for line in data.splitlines():
            entry = _parse(line)
            if entry is not None and entry_id(entry) not in seen:
                seen.add(entry_id(entry))
                out.append(entry)
    return out


def _parse(line: bytes) -> Entry | None:
    import json

    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None


def push_logs(ws: Workspace, fs: Any, root: str, url: str) -> LogReport:
    """Send every local log entry the remote lacks, as one new segment per log."""
    report = LogReport()
    for log, (path, _conflicts) in _logs(ws).items():
        local, _ = read_log(path)
        if not local:
            continue
        there = {entry_id(e) for e in _read_segments(fs, root, log, url)}
        new, seen = [], set(there)
        for e in local:
            if entry_id(e) not in seen:
                seen.add(entry_id(e))
                new.append(e)
        if not new:
            continue
        body = b"".join(encode_line(e) for e in new)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + secrets.token_hex(2)
        upload_bytes(fs, body, f"{root}/logs/{log}/{stamp}-{hash_bytes(body)}.jsonl")
        report.entries += len(new)
    return report


def pull_logs(ws: Workspace, fs: Any, root: str, url: str) -> LogReport:
    """Append the remote's entries this workspace lacks to each log (local entries first)."""
    report = LogReport()
    for log, (path, conflicts) in _logs(ws).items():
        remote = _read_segments(fs, root, log, url)
        if not remote:
            continue
        with log_writer(path) as append:
            local, _ = read_log(path)  # again, under the lock
            have = {entry_id(e) for e in local}
            incoming = [e for e in remote if entry_id(e) not in have]
            accepted, refused = conflicts(local, incoming, remote)
            for e in accepted:
                append(e)
        report.entries += len(accepted)
        report.conflicts += [f"{log}: {c}" for c in refused]
    return report


def _registry_conflicts(
    local: Sequence[Entry], incoming: Sequence[Entry], remote: Sequence[Entry]
) -> tuple[list[Entry], list[str]]:
    by_number: dict[tuple[Any, Any], Any] = {}
    by_digest: dict[tuple[Any, Any], Any] = {}
    for e in local:
        if e.get("type") == "version":
            by_number.setdefault((e.get("name"), e.get("version")), e.get("digest"))
            by_digest.setdefault((e.get("name"), e.get("digest")), e.get("version"))
    bad: set[tuple[Any, Any]] = set()
    refused: list[str] = []
    for e in incoming:
        if e.get("type") != "version":
            continue
        name, version, digest = e.get("name"), e.get("version"), e.get("digest")
        mine = by_number.get((name, version))
        other = by_digest.get((name, digest))
        if (mine is not None and mine != digest) or (other is not None and other != version):
            bad.add((name, version))
            here = (
                f"{name}@{version} holds {str(mine)[:12]} here"
                if mine
                else (f"these bytes are {name}@{other} here")
            )
            refused.append(f"model {name}@{version} ({str(digest)[:12]}) kept out: {here}")
    accepted: list[Entry] = []
    for e in incoming:
        key = (e.get("name"), e.get("to_version") if e.get("type") == "alias" else e.get("version"))
        if key in bad:
            if e.get("type") != "version":
                refused.append(f"{e.get('type')} event about {key[0]}@{key[1]} kept out with it")
            continue
        accepted.append(e)
    return accepted, refused


def _monitoring_conflicts(
    local: Sequence[Entry], incoming: Sequence[Entry], remote: Sequence[Entry]
) -> tuple[list[Entry], list[str]]:
    there = {entry_id(e) for e in remote}
    arriving = {e.get("run_id") for e in incoming}
    # A run diverged when both sides hold an entry of it the other lacks (the incoming
    # entries are, by construction, the remote's that are not here).
    diverged = sorted(
        {
            e.get("run_id")
            for e in local
            if e.get("run_id") in arriving and entry_id(e) not in there
        },
        key=str,
    )
    accepted = [e for e in incoming if e.get("run_id") not in diverged]
    refused = [f"history of run {r} differs on both sides; kept this side's" for r in diverged]
    return accepted, refused
