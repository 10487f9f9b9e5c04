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

Credentials are never written here: S3 reads them from the usual AWS environment variables
or profile. Nothing touches the network unless one of these commands is run.

Push verifies each local object before sending it (corrupted bytes are never published),
sends objects before manifests (a remote manifest never names a missing object) and refuses
when the remote already holds a *different* manifest under the same name and version. Pull
downloads into the store's temp folder, re-hashes, and commits only bytes that match their
name; a mismatch raises :class:`IntegrityError` naming the object and the remote.
"""

from __future__ import annotations

import json
import os
import posixpath
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError, DataError, IntegrityError
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.data.datasets import Datasets, DatasetVersion, check_name, check_same_version

_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class Remote:
    url: str
    options: dict[str, Any] = field(default_factory=dict)

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
            unknown = set(conf) - {"url", "endpoint_url", "options"}
            if unknown:
                raise ConfigError(f"remote: unknown keys {sorted(unknown)}", path=where)
            url = conf["url"]
            extra = conf.get("options") or {}
            if not isinstance(extra, dict):
                raise ConfigError("remote: options must be a mapping", path=where)
            options.update(extra)
            if conf.get("endpoint_url") and endpoint_url is None:
                endpoint_url = str(conf["endpoint_url"])
        else:
            raise ConfigError("remote: expected a URL or a mapping with 'url'", path=where)
    if not url:
        raise ConfigError("empty remote URL")
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    return Remote(url, options)


def _is_local(fs: Any) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def object_key(root: str, digest: str) -> str:
    """Where the object ``digest`` lives on a remote rooted at ``root``."""
    return f"{root}/objects/{digest[:2]}/{digest[2:]}"


def list_objects(fs: Any, root: str) -> set[str]:
    """The digest of every object on the remote (one listing of ``objects/``)."""
    base = f"{root}/objects"
    try:
        paths = fs.find(base)
    except FileNotFoundError:
        return set()
    out = set()
    for p in paths:
        rel = posixpath.relpath(p, base) if p.startswith(base) else p
        parts = rel.split("/")
        if len(parts) == 2 and len(parts[0]) == 2:
            digest = parts[0] + parts[1]
            if len(digest) == 64 and set(digest) <= _HEX:
                out.add(digest)
    return out


def _remote_manifests(fs: Any, root: str) -> dict[tuple[str, int], str]:
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
            out[(check_name(parts[0]), int(parts[1][:-5]))] = p
    return out


def _read_manifest(fs: Any, path: str, name: str, version: int, url: str) -> DatasetVersion:
    try:
        dv = DatasetVersion.from_dict(json.loads(fs.cat_file(path)))
    except (ValueError, TypeError) as exc:
        raise DataError(f"remote {url}: unreadable manifest {name}@{version}: {exc}") from exc
    if dv.name != name or dv.version != version or len(dv.digest) != 64:
        raise DataError(f"remote {url}: manifest {name}@{version} does not match its path")
    if not set(dv.digest) <= _HEX:
        raise DataError(f"remote {url}: manifest {name}@{version} names a bad object id")
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
    local = _selected(cat, names)
    there = _remote_manifests(fs, root)
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


def upload_file(fs: Any, local_path: str, dest: str) -> None:
    """Send a local file to ``dest`` (no reader ever sees half of it)."""
    _put(fs, dest, lambda target: fs.put_file(local_path, target))


def upload_files(fs: Any, pairs: list[tuple[str, str]]) -> None:
    """Send many ``(local path, dest)`` files: one concurrent batch on an object store (an S3
    PUT is atomic by itself), one atomic write after another on a folder."""
    if not pairs:
        return
    if _is_local(fs):
        for src, dest in pairs:
            upload_file(fs, src, dest)
        return
    fs.put([src for src, _ in pairs], [dest for _, dest in pairs])


def upload_bytes(fs: Any, data: bytes, dest: str) -> None:
    """Write ``data`` to ``dest`` (no reader ever sees half of it)."""
    _put(fs, dest, lambda target: fs.pipe_file(target, data))


def _put(fs: Any, dest: str, write: Callable[[str], None]) -> None:
    """Write ``dest`` so no reader sees half of it: a folder remote is written like the
    local store (temp name, then rename); an S3 PUT is atomic by itself."""
    if not _is_local(fs):
        write(dest)
        return
    fs.makedirs(posixpath.dirname(dest), exist_ok=True)
    tmp = f"{dest}.{secrets.token_hex(4)}.part"
    write(tmp)
    fs.mv(tmp, dest)


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
    there = _remote_manifests(fs, root)
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
    for dv in incoming:
        users.setdefault(dv.digest, []).append(dv.ref)
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
                fs, root, digest, tmp, url=remote.url, what=f"dataset {', '.join(refs)}"
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


def fetch_object(fs: Any, root: str, digest: str, dest: Path, *, url: str, what: str) -> int:
    """Download the object ``digest`` to the local file ``dest`` and check its bytes; returns
    its size. ``what`` names its user in the errors (``dataset iris@2``, ``... of run R``).

    A missing object raises :class:`DataError`; bytes that do not hash to ``digest`` raise
    :class:`IntegrityError` naming the object and ``what`` (``dest`` then holds them: the
    caller removes it).
    """
    try:
        fs.get_file(object_key(root, digest), str(dest))
    except FileNotFoundError as exc:
        raise DataError(f"remote {url} lacks object {digest} used by {what}") from exc
    _check_fetched(dest, digest, url=url, what=what)
    return dest.stat().st_size


def _check_fetched(dest: Path, digest: str, *, url: str, what: str) -> None:
    got = hash_file(dest) if dest.is_file() else "nothing"
    if got != digest:
        raise IntegrityError(
            f"remote {url}: object {digest} ({what}) "
            f"is corrupted there (its bytes hash to {got[:12]})",
            hint="push it again from a machine with a good copy",
            digest=digest,
            what=what,
        )


def fetch_objects(fs: Any, root: str, wanted: list[tuple[str, Path, str]], *, url: str) -> int:
    """:func:`fetch_object` for many ``(digest, dest, what)`` at once (one concurrent batch
    on an object store); every object is checked. Returns the bytes fetched."""
    if not wanted:
        return 0
    if _is_local(fs) or len(wanted) == 1:
        return sum(fetch_object(fs, root, d, dest, url=url, what=w) for d, dest, w in wanted)
    try:
        fs.get([object_key(root, d) for d, _, _ in wanted], [str(p) for _, p, _ in wanted])
    except FileNotFoundError:
        # name the missing object: one at a time, each raising with its user
        return sum(fetch_object(fs, root, d, dest, url=url, what=w) for d, dest, w in wanted)
    total = 0
    for digest, dest, what in wanted:
        _check_fetched(dest, digest, url=url, what=what)
        total += dest.stat().st_size
    return total
