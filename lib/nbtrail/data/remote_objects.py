"""The objects of a remote: where they live, sending them, and fetching them verified.

An object lives at ``<root>/objects/<first two hex>/<rest>``, named by the BLAKE3 hash of its
bytes, so writing one twice is harmless. Sending never lets a reader see half an object: a
folder remote is written under a temp name (``<dest>.<hex>.part``) then renamed, as the local
store does (a push removes the temp files of killed pushes once a day old: :func:`clean_parts`);
an S3 PUT (multipart included) becomes visible only once complete.

Fetching trusts nothing the remote says. Each object is streamed in chunks into a local temp
file, hashed as it arrives, and cut off as soon as it grows past the size its manifest gives
(or :data:`MAX_OBJECT_BYTES` when none is given): a huge object, or a folder remote whose
object is a link to ``/dev/zero``, is refused (:class:`RemoteRefused`) after reading one byte
too many, never read whole into memory or onto disk. Bytes that do not hash to their name
raise :class:`IntegrityError`. The caller owns the temp file and removes it on any error.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import stat
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import blake3

from nbtrail.core.errors import DataError, IntegrityError, RemoteRefused
from nbtrail.core.hashing import hash_file

_HEX = set("0123456789abcdef")
CHUNK = 4 * 1024 * 1024
MAX_OBJECT_BYTES = 64 * 1024**3  # the cap when a manifest gives no size: 64 GiB
MAX_MANIFEST_BYTES = 64 * 1024**2  # the cap on a manifest or a log segment read into memory
FETCH_THREADS = 8  # concurrent fetches from an object store
STALE_PART_SECONDS = 24 * 3600  # a temp file this old on a folder remote: its writer died


def is_local(fs: Any) -> bool:
    """True for a folder remote (fsspec's local filesystem)."""
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def object_key(root: str, digest: str) -> str:
    """Where the object ``digest`` lives on a remote rooted at ``root``."""
    return f"{root}/objects/{digest[:2]}/{digest[2:]}"


def is_digest(text: object) -> bool:
    """True for a 64-character lower-case hex BLAKE3 digest."""
    return isinstance(text, str) and len(text) == 64 and set(text) <= _HEX


def list_objects(fs: Any, root: str) -> set[str]:
    """The digest of every object on the remote (one listing of ``objects/``; temp names of
    writes under way or killed are not objects)."""
    base = f"{root}/objects"
    try:
        paths = fs.find(base)
    except FileNotFoundError:
        return set()
    out = set()
    for p in paths:
        rel = posixpath.relpath(p, base) if p.startswith(base) else p
        parts = rel.split("/")
        if len(parts) == 2 and len(parts[0]) == 2 and is_digest(parts[0] + parts[1]):
            out.add(parts[0] + parts[1])
    return out


# -- sending --------------------------------------------------------------------------------------


def upload_file(fs: Any, local_path: str, dest: str) -> None:
    """Send a local file to ``dest`` (no reader ever sees half of it)."""
    _put(fs, dest, lambda target: fs.put_file(local_path, target))


def upload_files(fs: Any, pairs: list[tuple[str, str]]) -> None:
    """Send many ``(local path, dest)`` files: one concurrent batch on an object store (an S3
    PUT is atomic by itself), one atomic write after another on a folder."""
    if not pairs:
        return
    if is_local(fs):
        for src, dest in pairs:
            upload_file(fs, src, dest)
        return
    fs.put([src for src, _ in pairs], [dest for _, dest in pairs])


def upload_bytes(fs: Any, data: bytes, dest: str) -> None:
    """Write ``data`` to ``dest`` (no reader ever sees half of it)."""
    _put(fs, dest, lambda target: fs.pipe_file(target, data))


def clean_parts(fs: Any, root: str, *, max_age: float = STALE_PART_SECONDS) -> int:
    """Remove the temp files (``*.part``) that killed pushes left on a folder remote, once
    older than ``max_age`` seconds (a younger one may be a live push from another machine,
    whose pid cannot be asked); returns how many. Nothing to do on an object store."""
    if not is_local(fs) or not os.path.isdir(root):
        return 0
    removed = 0
    now = time.time()
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name.endswith(".part"):
                path = os.path.join(dirpath, name)
                with contextlib.suppress(FileNotFoundError):
                    if now - os.lstat(path).st_mtime > max_age:
                        os.unlink(path)
                        removed += 1
    return removed


def _put(fs: Any, dest: str, write: Callable[[str], None]) -> None:
    """Write ``dest`` so no reader sees half of it: a folder remote is written like the
    local store (temp name, then rename); an S3 PUT is atomic by itself."""
    if not is_local(fs):
        write(dest)
        return
    fs.makedirs(posixpath.dirname(dest), exist_ok=True)
    tmp = f"{dest}.{secrets.token_hex(4)}.part"
    try:
        write(tmp)
        fs.mv(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            fs.rm_file(tmp)
        raise


# -- fetching -------------------------------------------------------------------------------------


def fetch_object(
    fs: Any,
    root: str,
    digest: str,
    dest: Path,
    *,
    url: str,
    what: str,
    size: int | None = None,
    cap: int = MAX_OBJECT_BYTES,
) -> int:
    """Stream the object ``digest`` into the local file ``dest``, checking its bytes; returns
    its size. ``what`` names its user in the errors (``dataset iris@2``, ``... of run R``);
    ``size`` is what its manifest says (None: unknown, then ``cap`` bounds it).

    A missing object raises :class:`DataError`; one bigger than ``size`` (or ``cap``)
    :class:`RemoteRefused`, after reading at most one byte past it; bytes that do not hash to
    ``digest`` :class:`IntegrityError`. ``dest`` may then hold a part: the caller removes it.
    """
    limit = cap if size is None else size
    if limit > cap:
        raise _too_big(url, digest, what, f"its manifest says {limit:,} bytes", cap)
    key = object_key(root, digest)
    try:
        if is_local(fs):
            got, hashed = _copy_local(key, dest, limit)
        else:
            got, hashed = _stream(fs, key, dest, limit)
    except _TooBig as big:
        raise _too_big(url, digest, what, big.why, limit) from None
    except FileNotFoundError as exc:
        raise DataError(f"remote {url} lacks object {digest} used by {what}") from exc
    except IsADirectoryError as exc:
        raise RemoteRefused(f"remote {url}: object {digest} ({what}) is not a file") from exc
    if hashed != digest:
        raise IntegrityError(
            f"remote {url}: object {digest} ({what}) "
            f"is corrupted there (its bytes hash to {hashed[:12]})",
            hint="push it again from a machine with a good copy",
            digest=digest,
            what=what,
        )
    return got


class _TooBig(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


def _stream(fs: Any, key: str, dest: Path, limit: int) -> tuple[int, str]:
    """Copy at most ``limit`` bytes of a remote file in chunks, hashing them as they arrive;
    :class:`_TooBig` once it holds (or announces) more. Returns (size, digest)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    got = 0
    with fs.open(key, "rb", block_size=min(CHUNK, limit + 1)) as src:
        announced = getattr(src, "size", None)
        if isinstance(announced, int) and announced > limit:
            raise _TooBig(f"the remote says {announced:,} bytes")
        with open(dest, "wb") as out:
            while chunk := src.read(min(CHUNK, limit + 1 - got)):
                got += len(chunk)
                if got > limit:
                    raise _TooBig("it holds more")
                hasher.update(chunk)
                out.write(chunk)
    return got, hasher.hexdigest()


def _copy_local(path: str, dest: Path, limit: int) -> tuple[int, str]:
    """:func:`_stream` for a folder remote: a kernel-side copy (``copy_file_range``) of at
    most ``limit + 1`` bytes, then a threaded hash of the copy; a file that is not regular (a
    link to ``/dev/zero``) is read in chunks, as bounded."""
    src_fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(src_fd)
        if stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(path)
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise _TooBig(f"it holds {st.st_size:,} bytes")
        with open(dest, "wb") as out:
            got = _copy_at_most(src_fd, out.fileno(), limit + 1)
    finally:
        os.close(src_fd)
    if got > limit:
        raise _TooBig("it holds more")
    return got, hash_file(dest)


def _copy_at_most(src_fd: int, dst_fd: int, most: int) -> int:
    got = 0
    try:
        while got < most:
            n = os.copy_file_range(src_fd, dst_fd, min(CHUNK * 16, most - got))
            if n == 0:
                return got
            got += n
        return got
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    while got < most:  # not a regular file, or a filesystem without copy_file_range
        chunk = os.read(src_fd, min(CHUNK, most - got))
        if not chunk:
            break
        os.write(dst_fd, chunk)
        got += len(chunk)
    return got


def read_capped(fs: Any, path: str, *, url: str, what: str, cap: int = MAX_MANIFEST_BYTES) -> bytes:
    """The bytes of a small remote file (a manifest, a log segment), read in chunks and
    refused (:class:`RemoteRefused`) past ``cap`` bytes rather than read whole into memory.
    A missing file raises ``FileNotFoundError``."""
    parts: list[bytes] = []
    got = 0
    with fs.open(path, "rb", block_size=min(CHUNK, cap + 1)) as src:
        announced = getattr(src, "size", None)
        if isinstance(announced, int) and announced > cap:
            raise RemoteRefused(f"remote {url}: {what} is {announced:,} bytes; refused")
        while chunk := src.read(min(CHUNK, cap + 1 - got)):
            got += len(chunk)
            if got > cap:
                raise RemoteRefused(f"remote {url}: {what} is bigger than {cap:,} bytes; refused")
            parts.append(chunk)
    return b"".join(parts)


def _too_big(url: str, digest: str, what: str, why: str, limit: int) -> RemoteRefused:
    return RemoteRefused(
        f"remote {url}: object {digest} ({what}) is bigger than {limit:,} bytes ({why}); "
        "refused without fetching it",
        hint="push it again from a machine with a good copy",
        digest=digest,
        what=what,
    )


def fetch_objects(
    fs: Any,
    root: str,
    wanted: list[tuple[str, Path, str, int | None]],
    *,
    url: str,
    cap: int = MAX_OBJECT_BYTES,
) -> int:
    """:func:`fetch_object` for many ``(digest, dest, what, size)`` (concurrently from an
    object store, one after another from a folder); every object is checked. Returns the
    bytes fetched. The first error is raised once the fetches under way have ended."""
    if not wanted:
        return 0

    def one(item: tuple[str, Path, str, int | None]) -> int:
        digest, dest, what, size = item
        return fetch_object(fs, root, digest, dest, url=url, what=what, size=size, cap=cap)

    if is_local(fs) or len(wanted) == 1:
        return sum(one(item) for item in wanted)
    with ThreadPoolExecutor(max_workers=FETCH_THREADS) as pool:
        futures = [pool.submit(one, item) for item in wanted]
        try:
            return sum(f.result() for f in futures)
        except BaseException:
            for f in futures:  # the first error stops what has not started
                f.cancel()
            raise
