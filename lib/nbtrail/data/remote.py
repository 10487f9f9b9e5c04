"""Remotes: push and pull dataset versions (objects + manifests) to an fsspec URL.

A remote is a folder (``/mnt/share/nbtrail``, ``file:///...``) or ``s3://bucket/prefix``
with the same layout as the local store::

    <url>/objects/<first two hex>/<rest>        the bytes, named by their BLAKE3 hash
    <url>/datasets/<name>/<version>.json        the manifests

Where the URL comes from: the ``--remote`` option of ``nbtrail data push/pull`` when given,
otherwise the ``remote:`` key of ``params/pipeline.yaml``, either a URL string or a mapping::

    remote: s3://my-bucket/nbtrail
    # or
    remote:
      url: s3://my-bucket/nbtrail
      endpoint_url: http://127.0.0.1:9000   # S3-compatible servers (MinIO, moto)
      options: {}                           # any other fsspec storage options
      max_object_bytes: 68719476736         # the cap on an object of unknown size (64 GiB)

Credentials are never written here: S3 reads them from the usual AWS environment variables
or profile. Nothing touches the network unless one of these commands is run.

Push verifies each local object before sending it (corrupted bytes are never published),
sends objects before manifests (a remote manifest never names a missing object) and refuses
when the remote already holds a *different* manifest under the same name and version. Pull
streams each object into the store's temp folder (:mod:`~nbtrail.data.remote_objects`), hashes
it as it arrives and commits only bytes that match their name; a mismatch raises
:class:`IntegrityError` naming the object and the remote. What a remote says is not trusted:
a manifest under a hostile name, naming another dataset, a bad object id or a bad size, and an
object bigger than its manifest says, are refused (:class:`RemoteRefused`) before anything of
them is written. Manifests are written last, so a pull killed half-way leaves verified objects
and no manifest naming a missing one; the next pull completes it.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from nbtrail.core.errors import ConfigError, DataError, NameRefused, RemoteRefused
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets, DatasetVersion, check_name, check_same_version
from nbtrail.data.remote_objects import (
    MAX_OBJECT_BYTES,
    clean_parts,
    fetch_object,
    is_digest,
    list_objects,
    object_key,
    read_capped,
    upload_bytes,
    upload_file,
)


@dataclass(frozen=True)
class Remote:
    """A remote: its fsspec URL, storage options, and the biggest object a pull accepts
    when a manifest gives no size (``max_object_bytes``)."""

    url: str
    options: dict[str, Any] = field(default_factory=dict)
    max_object_bytes: int = MAX_OBJECT_BYTES

    def filesystem(self) -> tuple[Any, str]:
        import fsspec

        try:
            fs, root = fsspec.core.url_to_fs(self.url, **self.options)
        except (ValueError, ImportError) as exc:
            raise ConfigError(f"remote {self.url!r}: {exc}") from exc
        return fs, root.rstrip("/")


@dataclass(frozen=True)
class TransferReport:
    url: str
    objects_sent: int = 0
    objects_present: int = 0
    manifests_sent: int = 0
    manifests_present: int = 0
    bytes_sent: int = 0
    repaired: list[str] = field(default_factory=list)


def resolve_remote(
    ws: Workspace, url: str | None = None, *, endpoint_url: str | None = None
) -> Remote:
    """The remote named on the command line, else the ``remote:`` of ``params/pipeline.yaml``."""
    options: dict[str, Any] = {}
    cap = MAX_OBJECT_BYTES
    if url is None:
        from nbtrail.core.yamlio import load_yaml

        data = load_yaml(ws.pipeline_file, ws)
        conf = data.get("remote") if isinstance(data, dict) else None
        where = ws.relative(ws.pipeline_file)
        if conf is None:
            raise ConfigError(
                "no remote given",
                path=where,
                hint="pass --remote URL, or add `remote: URL` to params/pipeline.yaml",
            )
        if isinstance(conf, str):
            url = conf
        elif isinstance(conf, dict) and isinstance(conf.get("url"), str):
            unknown = set(conf) - {"url", "endpoint_url", "options", "max_object_bytes"}
            if unknown:
                raise ConfigError(f"remote: unknown keys {sorted(unknown)}", path=where)
            url = conf["url"]
            extra = conf.get("options") or {}
            if not isinstance(extra, dict):
                raise ConfigError("remote: options must be a mapping", path=where)
            options.update(extra)
            if conf.get("endpoint_url") and endpoint_url is None:
                endpoint_url = str(conf["endpoint_url"])
            cap = conf.get("max_object_bytes", cap)
            if not isinstance(cap, int) or isinstance(cap, bool) or cap < 1:
                raise ConfigError("remote: max_object_bytes must be a positive integer", path=where)
        else:
            raise ConfigError("remote: expected a URL or a mapping with 'url'", path=where)
    if not url:
        raise ConfigError("empty remote URL")
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return Remote(url, options, cap)


def _remote_manifests(fs: Any, root: str, url: str) -> dict[tuple[str, int], str]:
    """(name, version) -> remote path of every manifest on the remote."""
    base = f"{root}/datasets"
    try:
        paths = fs.find(base)
    except FileNotFoundError:
        return {}
    out: dict[tuple[str, int], str] = {}
    for p in paths:
        rel = posixpath.relpath(p, base) if p.startswith(base) else p
        parts = rel.split("/")
        if len(parts) == 2 and parts[1].endswith(".json") and parts[1][:-5].isdigit():
            out[(_remote_name(parts[0], rel, url), int(parts[1][:-5]))] = p
    return out


def _remote_name(name: str, path: str, url: str) -> str:
    try:
        return check_name(name)
    except NameRefused as exc:
        raise RemoteRefused(
            f"remote {url}: refusing the manifest datasets/{path[:80]!r} (a hostile name)",
            hint="remove it from the remote",
        ) from exc


def _read_manifest(fs: Any, path: str, name: str, version: int, url: str) -> DatasetVersion:
    where = f"remote {url}: manifest {name}@{version}"
    try:
        data = read_capped(fs, path, url=url, what=f"manifest {name}@{version}")
        dv = DatasetVersion.from_dict(json.loads(data))
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where} is unreadable: {exc}") from exc
    if dv.name != name or dv.version != version:
        shown = f"{str(dv.name)[:80]!r}@{str(dv.version)[:20]}"
        raise RemoteRefused(f"{where} names another dataset ({shown}); refused")
    if not is_digest(dv.digest):
        raise RemoteRefused(f"{where} names a bad object id {str(dv.digest)[:80]!r}; refused")
    if not isinstance(dv.bytes, int) or isinstance(dv.bytes, bool) or dv.bytes < 0:
        raise RemoteRefused(f"{where} gives a bad size {str(dv.bytes)[:40]!r}; refused")
    return dv


def _selected(cat: Datasets, names: Iterable[str] | None) -> list[DatasetVersion]:
    chosen = [check_name(n) for n in names] if names else cat.names()
    return [v for n in chosen for v in cat.versions(n)]


def _as_remote(ws: Workspace, remote: Remote | str | None, endpoint_url: str | None) -> Remote:
    if isinstance(remote, Remote):
        return remote
    return resolve_remote(ws, remote, endpoint_url=endpoint_url)


def push(
    ws: Workspace,
    remote: Remote | str | None = None,
    *,
    endpoint_url: str | None = None,
    names: Iterable[str] | None = None,
) -> TransferReport:
    """Send every (or the named) dataset versions and their objects to ``remote``.

    ``remote``: a :class:`Remote`, a URL, or None for the ``remote:`` of pipeline.yaml.
    """
    remote = _as_remote(ws, remote, endpoint_url)
    cat = Datasets(ws)
    fs, root = remote.filesystem()
    fs.invalidate_cache()
    clean_parts(fs, root)
    local = _selected(cat, names)
    there = _remote_manifests(fs, root, remote.url)
    for dv in local:
        if (dv.name, dv.version) in there:
            other = _read_manifest(
                fs, there[(dv.name, dv.version)], dv.name, dv.version, remote.url
            )
            check_same_version(dv, other, where=f"on remote {remote.url}", other="the one here")
    have = list_objects(fs, root)
    users: dict[str, list[str]] = {}
    for dv in local:
        users.setdefault(dv.digest, []).append(dv.ref)
    sent = present = nbytes = 0
    for digest, refs in sorted(users.items()):
        if digest in have:
            present += 1
            continue
        src = cat.store.path(digest)
        what = f"dataset {', '.join(refs)}"
        cat.store.open_verified(digest, what=what)  # never publish corrupted bytes
        upload_file(fs, str(src), object_key(root, digest))
        sent += 1
        nbytes += src.stat().st_size
    msent = 0
    for dv in local:
        if (dv.name, dv.version) in there:
            continue
        dest = f"{root}/datasets/{dv.name}/{dv.version}.json"
        body = (json.dumps(dv.to_dict(), indent=2, sort_keys=True) + "\n").encode()
        upload_bytes(fs, body, dest)
        msent += 1
    return TransferReport(
        remote.url,
        objects_sent=sent,
        objects_present=present,
        manifests_sent=msent,
        manifests_present=len(local) - msent,
        bytes_sent=nbytes,
    )


def pull(
    ws: Workspace,
    remote: Remote | str | None = None,
    *,
    endpoint_url: str | None = None,
    names: Iterable[str] | None = None,
) -> TransferReport:
    """Fetch every (or the named) dataset versions from ``remote``, verifying each object.

    Local objects that a pulled version uses are re-hashed; a corrupted one is replaced by the
    remote's verified copy (listed in ``repaired``).
    """
    remote = _as_remote(ws, remote, endpoint_url)
    cat = Datasets(ws)
    fs, root = remote.filesystem()
    fs.invalidate_cache()
    wanted = {check_name(n) for n in names} if names else None
    there = _remote_manifests(fs, root, remote.url)
    incoming: list[DatasetVersion] = []
    for (name, version), path in sorted(there.items()):
        if wanted is not None and name not in wanted:
            continue
        incoming.append(_read_manifest(fs, path, name, version, remote.url))
    if wanted:
        missing = wanted - {dv.name for dv in incoming}
        if missing:
            raise DataError(f"remote {remote.url} has no dataset {', '.join(sorted(missing))}")
    new_manifests = [dv for dv in incoming if cat.conflict_free(dv)]
    users: dict[str, list[str]] = {}
    sizes: dict[str, int | None] = {}
    for dv in incoming:
        users.setdefault(dv.digest, []).append(dv.ref)
        if sizes.setdefault(dv.digest, dv.bytes or None) != (dv.bytes or None):
            raise RemoteRefused(
                f"remote {remote.url}: manifests {', '.join(users[dv.digest])} give object "
                f"{dv.digest} different sizes; refused"
            )
    fetched = present = nbytes = 0
    repaired: list[str] = []
    for digest, refs in sorted(users.items()):
        if cat.store.exists(digest):
            if cat.store.verify(digest):
                present += 1
                continue
            repaired.append(digest)
        fd, tmp = cat.store.new_tmp()
        os.close(fd)
        try:
            nbytes += fetch_object(
                fs,
                root,
                digest,
                tmp,
                url=remote.url,
                what=f"dataset {', '.join(refs)}",
                size=sizes[digest],
                cap=remote.max_object_bytes,
            )
            cat.store.adopt(tmp, digest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fetched += 1
    for dv in new_manifests:
        cat.import_version(dv)
    return TransferReport(
        remote.url,
        objects_sent=fetched,
        objects_present=present,
        manifests_sent=len(new_manifests),
        manifests_present=len(incoming) - len(new_manifests),
        bytes_sent=nbytes,
        repaired=repaired,
    )
