"""A content-addressed object store: objects named by the BLAKE3 hash of their bytes.

Objects live at ``objects/<first two hex>/<rest>``. A new object is first copied into
``objects/tmp/``: by reflink when the filesystem offers one (no byte is copied; the copy is
hashed), otherwise by ``copy_file_range`` and fsynced in one thread while the source is hashed
(and a large CSV's records counted) through a memory map in others (:func:`copy_hashing`);
the hash names the copy only if the source did not change meanwhile, else the copy is hashed.
It is then made read-only (0444) and renamed into place. A killed writer therefore never
leaves a partial object under a real name; its ``objects/tmp/obj.<pid>.*.part`` file is
removed by the next writer once that pid is gone, and a writer that fails (a full disk:
``OSError`` ENOSPC, which :class:`~nbtrail.data.datasets.Datasets` turns into ``DiskFull``)
removes its own. Identical bytes are kept once, and an existing object is never rewritten unless its bytes no
longer match its name (then a fresh, verified copy replaces it).

Reads verify: :meth:`ObjectStore.read_bytes` and :meth:`ObjectStore.open_verified` never hand
out bytes that do not match their name; the :class:`IntegrityError` names what was being read.

Checking out an object (:meth:`ObjectStore.link_out`) prefers a reflink (copy-on-write, so a
writer can never reach the store), then a hard link to the read-only object, then a copy. A
hard link is only safe while the 0444 mode holds, which it does not for root: as root, ``auto``
copies rather than hard-links unless asked explicitly.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, TypeVar

import blake3

from nbtrail.core.errors import DataError, IntegrityError, NotFound
from nbtrail.core.hashing import hash_bytes, hash_file
from nbtrail.core.processes import pid_alive
from nbtrail.data.statcache import RACY_NS

_HEX = set("0123456789abcdef")
_FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_COPY_CHUNK = 64 * 1024 * 1024
STALE_TMP_SECONDS = 24 * 3600
LINK_MODES = ("auto", "reflink", "hardlink", "copy")
T = TypeVar("T")


def _check_digest(digest: str) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        raise NotFound(f"not an object id: {digest!r}")
    return digest


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _try_reflink(src_fd: int, dst_fd: int) -> bool:
    try:
        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
    except OSError:
        return False
    return True


def _copy_range(src_fd: int, dst_fd: int, size: int) -> int:
    """Copy ``src_fd`` to ``dst_fd`` until EOF (``copy_file_range``, so the bytes never pass
    through Python; plain reads and writes where the kernel cannot); returns the bytes copied."""
    copied = 0
    try:
        while True:  # `size` first, then whatever the source grew by meanwhile
            n = os.copy_file_range(src_fd, dst_fd, max(_COPY_CHUNK, size - copied))
            if n == 0:
                return copied
            copied += n
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    os.lseek(src_fd, copied, os.SEEK_SET)
    os.lseek(dst_fd, copied, os.SEEK_SET)
    while True:
        chunk = os.read(src_fd, 8 * 1024 * 1024)
        if not chunk:
            return copied
        view = memoryview(chunk)
        while view:
            view = view[os.write(dst_fd, view) :]
        copied += len(chunk)


def copy_hashing(
    src_fd: int, dst_fd: int, feed: Callable[[Any, int], None] | None = None
) -> tuple[str | None, bool]:
    """Copy ``src_fd`` to ``dst_fd`` and fsync it, while hashing the source (BLAKE3, every
    core) and passing it to ``feed(buffer, n)`` (a row counter, say) in other threads; returns
    (digest, fed).

    Both read the source through one memory map while the kernel copies it: each byte comes
    from the page cache once for each of them, and none waits for another. The digest (and
    what was fed) counts only if the source did not change meanwhile: the same size, mtime
    and ctime after as before, and not modified so recently that a change could hide in the
    same clock tick (the stat cache's racy rule). Otherwise the digest is None and ``fed``
    False, and the caller hashes (and describes) the copy itself.
    """
    before = os.fstat(src_fd)
    steady = before.st_size > 0 and (
        time.time_ns() - max(before.st_mtime_ns, before.st_ctime_ns) >= RACY_NS
    )

    def copy() -> int:
        n = _copy_range(src_fd, dst_fd, before.st_size)
        os.fsync(dst_fd)
        return n

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="nbtrail-ingest") as pool:
        copying = pool.submit(copy)
        if not steady:
            copying.result()
            return None, False
        with mmap.mmap(src_fd, before.st_size, access=mmap.ACCESS_READ) as mm:
            feeding = pool.submit(feed, mm, before.st_size) if feed is not None else None
            try:
                digest = blake3.blake3(mm, max_threads=blake3.blake3.AUTO).hexdigest()
            finally:
                if feeding is not None:
                    feeding.result()
        copied = copying.result()
    after = os.fstat(src_fd)
    same = (after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    if not same or copied != before.st_size:
        return None, False
    return digest, feeding is not None


class Reader(Protocol):
    """What :meth:`ObjectStore.ingest` feeds the incoming bytes to while it copies them."""

    def feed(self, data: Any, n: int) -> None:
        """The first ``n`` bytes of ``data`` (it has the buffer protocol and ``find``)."""

    def discard(self) -> None:
        """What was fed is not (all of) what is stored: forget it."""


class ObjectStore:
    """Immutable objects under ``root``, addressed by their content hash."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    @property
    def tmp_dir(self) -> Path:
        return self.root / "tmp"

    def path(self, digest: str) -> Path:
        digest = _check_digest(digest)
        return self.root / digest[:2] / digest[2:]

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    # Writing
    def new_tmp(self) -> tuple[int, Path]:
        """An open temp file in the store's own folder (so the final rename is atomic)."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.clean_tmp()
        fd, name = tempfile.mkstemp(prefix=f"obj.{os.getpid()}.", suffix=".part", dir=self.tmp_dir)
        return fd, Path(name)

    def clean_tmp(self, *, max_age: float = STALE_TMP_SECONDS) -> list[Path]:
        """Remove temp files left by writers that died (or older than ``max_age`` seconds)."""
        removed: list[Path] = []
        if not self.tmp_dir.is_dir():
            return removed
        now = time.time()
        for f in self.tmp_dir.iterdir():
            parts = f.name.split(".")
            pid = int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else None
            try:
                age = now - f.stat().st_mtime
            except FileNotFoundError:
                continue
            dead = pid is not None and pid != os.getpid() and not pid_alive(pid)
            if dead or age > max_age:
                f.unlink(missing_ok=True)
                removed.append(f)
        return removed

    def _commit(self, tmp: Path, digest: str) -> str:
        final = self.path(digest)
        if final.is_file():
            if hash_file(final) == digest:
                tmp.unlink(missing_ok=True)
                return digest
            # The stored copy was damaged: the fresh, verified bytes replace it.
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o444)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return digest

    def adopt(self, tmp: Path, digest: str) -> str:
        """Commit a temp file from :meth:`new_tmp` as ``digest`` after checking its bytes."""
        _check_digest(digest)
        if hash_file(tmp) != digest:
            tmp.unlink(missing_ok=True)
            raise self._corrupted(digest, "incoming object")
        return self._commit(tmp, digest)

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; returns its digest. Existing objects are never rewritten."""
        digest = hash_bytes(data)
        if self.exists(digest):
            return digest
        fd, tmp = self.new_tmp()
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return self._commit(tmp, digest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def put_file(self, source: str | os.PathLike[str], *, digest: str | None = None) -> str:
        """Copy ``source`` into the store; returns its digest.

        When ``digest`` is given (a trusted hash of the source, e.g. from a stat cache) and the
        object already exists, nothing is read or copied. Otherwise the bytes are copied (see
        :meth:`ingest`) and what is hashed is exactly what was written, so the name always
        matches the stored bytes even if the source changes meanwhile.
        """
        if digest is not None and self.exists(digest):
            return digest
        return self.ingest(source)[0]

    def ingest(
        self,
        source: str | os.PathLike[str],
        inspect: Callable[[Path], T] | None = None,
        *,
        reader: Reader | None = None,
    ) -> tuple[str, T | None]:
        """Copy ``source`` in, run ``inspect`` on the private copy, then commit it.

        ``inspect`` sees exactly the bytes that will be stored (not a source that may change
        meanwhile); if it raises, the copy is discarded and nothing becomes visible.
        ``reader`` is fed the bytes while they are copied (see :func:`copy_hashing`), before
        ``inspect`` runs; when what it was fed may not be what is stored (a reflink: nothing
        read; a source that changed meanwhile) it is told to discard it.
        """
        fd, tmp = self.new_tmp()
        try:
            try:
                src_fd = os.open(source, os.O_RDONLY)
            except OSError as exc:
                raise DataError(f"cannot read {source}: {exc.strerror}") from exc
            try:
                if _try_reflink(src_fd, fd):  # shared extents: nothing read, nothing fed
                    digest, fed = None, False
                    os.fsync(fd)
                else:
                    digest, fed = copy_hashing(src_fd, fd, reader.feed if reader else None)
            finally:
                os.close(src_fd)
            if reader is not None and not fed:
                reader.discard()
            result = inspect(tmp) if inspect is not None else None
            if digest is None:  # the source changed meanwhile: name the copy by its own bytes
                digest = hash_file(tmp)
            os.close(fd)
            fd = -1
            return self._commit(tmp, digest), result
        except BaseException:
            if fd >= 0:
                os.close(fd)
            tmp.unlink(missing_ok=True)
            raise

    # Reading
    def verify(self, digest: str) -> bool:
        """True when the object exists and its bytes still hash to its name."""
        p = self.path(digest)
        if not p.is_file():
            return False
        return hash_file(p) == digest

    def _corrupted(self, digest: str, what: str) -> IntegrityError:
        return IntegrityError(
            f"{what}: object {digest} is corrupted (its bytes no longer match its hash)",
            hint="restore it with `nbtrail data pull` or re-add the source",
            digest=digest,
            what=what,
            path=str(self.path(digest)),
        )

    def _missing(self, digest: str, what: str) -> NotFound:
        return NotFound(
            f"{what}: object {digest} is missing from {self.root}",
            hint="fetch it with `nbtrail data pull`",
        )

    def read_bytes(self, digest: str, *, what: str = "object") -> bytes:
        """The object's bytes, verified against its name."""
        p = self.path(digest)
        if not p.is_file():
            raise self._missing(digest, what)
        data = p.read_bytes()
        if hash_bytes(data) != digest:
            raise self._corrupted(digest, what)
        return data

    def open_verified(self, digest: str, *, what: str = "object") -> Path:
        """The object's path after checking its bytes; raises IntegrityError on a mismatch."""
        p = self.path(digest)
        if not p.is_file():
            raise self._missing(digest, what)
        if hash_file(p) != digest:
            raise self._corrupted(digest, what)
        return p

    def iter_digests(self) -> Iterator[str]:
        """Every object id in the store (temp files are not objects)."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) == 2 and sub.is_dir():
                for f in sorted(sub.iterdir()):
                    if f.is_file() and len(f.name) == 62:
                        yield sub.name + f.name

    def disk_usage(self) -> int:
        """Bytes held by objects (each inode counted once)."""
        seen: set[int] = set()
        total = 0
        for d in self.iter_digests():
            st = self.path(d).stat()
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
        return total

    # Checking out
    def link_out(
        self,
        digest: str,
        dest: str | os.PathLike[str],
        *,
        mode: str = "auto",
        what: str = "object",
    ) -> str:
        """Make ``dest`` hold the verified object; returns ``reflink``, ``hardlink`` or ``copy``.

        ``auto`` tries a reflink, then (unless running as root, for whom 0444 does not stop a
        write through the link into the store) a hard link, then a copy. ``dest`` is replaced
        atomically; an existing ``dest`` that is a folder is refused.
        """
        if mode not in LINK_MODES:
            raise DataError(f"unknown checkout mode {mode!r}", hint=f"use one of {LINK_MODES}")
        src = self.open_verified(digest, what=what)
        target = Path(dest)
        if target.is_dir():
            raise DataError(f"{target} is a folder", hint="give a file path to check out to")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.parent / f".{target.name}.{os.getpid()}.nbtrail-tmp"
        tmp.unlink(missing_ok=True)
        try:
            how = self._materialise(src, tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return how

    def _materialise(self, src: Path, tmp: Path, mode: str) -> str:
        if mode in ("auto", "reflink"):
            with open(src, "rb") as s, open(tmp, "wb") as d:
                if _try_reflink(s.fileno(), d.fileno()):
                    return "reflink"
            tmp.unlink()
            if mode == "reflink":
                raise DataError(f"this filesystem cannot reflink {src}", hint="use --link auto")
        if mode == "hardlink" or (mode == "auto" and os.geteuid() != 0):
            try:
                os.link(src, tmp)
                return "hardlink"
            except OSError as exc:
                if mode == "hardlink":
                    raise DataError(f"cannot hard-link {src} to {tmp}: {exc.strerror}") from exc
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        return "copy"
