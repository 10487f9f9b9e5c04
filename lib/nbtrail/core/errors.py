"""The errors nbtrail raises, each carrying the facts a person needs.

Every error is a subclass of :class:`NbtrailError` *and* of the builtin it really is,
so a generic ``except ValueError`` still catches a bad parameter::

    NbtrailError                      exit code (cli.main maps it)
    ├── ConfigError(ValueError)            2  malformed or inconsistent YAML in params/
    ├── ParameterError(ValueError)         3  unknown parameter name or wrong type
    ├── DataError(ValueError)              4  missing, empty or unreadable data; schema change
    │   └── NameRefused                    4  hostile dataset or alias name
    ├── IntegrityError(OSError)            5  a stored object whose bytes do not match its hash
    ├── StageFailed(RuntimeError)          6  a cell raised while a stage notebook ran
    ├── GateFailed(RuntimeError)           7  a model failed an evaluation gate or a refusal rule
    ├── VerdictFailed(RuntimeError)        8  monitoring found drift or degradation
    ├── NotFound(LookupError)              9  unknown run, dataset version, model or alias
    ├── Busy(RuntimeError)                10  another process holds the lock it needs
    ├── RecordInvalid(ValueError)         11  a run record that fails its JSON schema
    ├── NotReproduced(RuntimeError)       12  a reproduced run whose metrics or outputs differ
    ├── Unreachable(ConnectionError)      13  a Dask scheduler that does not answer
    ├── DiskFull(OSError)                 14  no space left (or quota exceeded) while writing
    └── RemoteRefused(ValueError)         15  a remote that names paths outside the workspace,
                                              or an object bigger than its manifest allows

Messages are composed from the facts in ``__str__``; the CLI adds nothing but the prefix.
Every error pickles (:meth:`NbtrailError.__reduce__`), so it survives the trip back from a
process or a Dask worker with its facts intact.
"""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

#: the errnos that mean "no room to write": no space left, disk quota exceeded
NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL = 13


def _rebuild(cls: type[NbtrailError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Unpickle an error without calling its (keyword-only) ``__init__``."""
    obj = cls.__new__(cls)
    Exception.__init__(obj, *args)
    obj.__dict__.update(state)
    return obj


class NbtrailError(Exception):
    """Base of nbtrail's errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None, **facts: object) -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        self.facts = facts

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return text


class ConfigError(NbtrailError, ValueError):
    """Malformed or inconsistent YAML in ``params/``, with its file and line."""

    exit_code = 2

    def __init__(
        self, message: str, *, path: str | None = None, line: int | None = None, **kw: Any
    ) -> None:
        where = path or ""
        if path and line is not None:
            where = f"{path}:{line}"
        super().__init__(f"{where}: {message}" if where else message, **kw)
        self.path = path
        self.line = line


class ParameterError(NbtrailError, ValueError):
    """An unknown parameter, a wrong type or a bad value, naming the stage and parameter."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        stage: str | None = None,
        parameter: str | None = None,
        valid: list[str] | None = None,
        **kw: Any,
    ) -> None:
        text = f"stage {stage!r}: {message}" if stage else message
        if valid is not None:
            text = f"{text}; valid parameters: {', '.join(sorted(valid)) or '(none)'}"
        super().__init__(text, **kw)
        self.stage = stage
        self.parameter = parameter
        self.valid = valid


class DataError(NbtrailError, ValueError):
    """Missing, empty or unreadable data, or a schema that changed under a name."""

    exit_code = 4


class NameRefused(DataError):
    """A dataset or alias name that could escape its folder or mislead a reader."""

    exit_code = 4


class IntegrityError(NbtrailError, OSError):
    """A stored object or output whose bytes no longer match their recorded hash."""

    exit_code = 5


class StageFailed(NbtrailError, RuntimeError):
    """A cell raised while a stage ran. Carries stage, notebook, cell and where the notebook is."""

    exit_code = 6
    stage: str
    notebook: str
    cell: int | None
    ename: str
    evalue: str
    saved: str | None
    run_id: str | None
    traceback: str | None

    def __init__(
        self,
        *,
        stage: str,
        notebook: str,
        cell: int | None,
        ename: str,
        evalue: str,
        saved: str | None,
        run_id: str | None = None,
        traceback: str | None = None,
    ) -> None:
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        evalue_line = (evalue or "").strip().splitlines()
        first = evalue_line[0] if evalue_line else ""
        msg = f"stage {stage!r} failed in {notebook} at {where}: {ename}: {first}"
        if saved:
            msg += f"; failed notebook saved at {saved}"
        super().__init__(msg)
        # the facts, as attributes; `traceback` is the failing cell's, `nbtrail -v` prints it
        vars(self).update(
            stage=stage,
            notebook=notebook,
            cell=cell,
            ename=ename,
            evalue=evalue,
            saved=saved,
            run_id=run_id,
            traceback=traceback,
        )
        # A gate or a monitoring verdict raised inside the notebook keeps its own exit code.
        self.exit_code = {
            "ParameterError": ParameterError.exit_code,
            "DataError": DataError.exit_code,
            "NameRefused": DataError.exit_code,
            "IntegrityError": IntegrityError.exit_code,
            "GateFailed": GateFailed.exit_code,
            "VerdictFailed": VerdictFailed.exit_code,
        }.get(ename, StageFailed.exit_code)


class GateFailed(NbtrailError, RuntimeError):
    """A model failed an evaluation gate or an export refusal rule."""

    exit_code = 7


class VerdictFailed(NbtrailError, RuntimeError):
    """Monitoring found drift or degradation in a batch."""

    exit_code = 8


class NotFound(NbtrailError, LookupError):
    """An unknown run, dataset version, model, alias or output."""

    exit_code = 9


class Busy(NbtrailError, RuntimeError):
    """Another process holds the lock this one needs."""

    exit_code = 10


class RecordInvalid(NbtrailError, ValueError):
    """A run record that does not validate against ``schemas/run-record.v1.json``."""

    exit_code = 11


class NotReproduced(NbtrailError, RuntimeError):
    """``nbtrail reproduce``: the re-executed run's metrics or outputs differ."""

    exit_code = 12


class Unreachable(NbtrailError, ConnectionError):
    """A Dask scheduler (``nbtrail sweep --scheduler``) that does not answer in time."""

    exit_code = 13


class DiskFull(NbtrailError, OSError):
    """No space left (or a quota exceeded) while writing ``what`` at ``path``.

    Raised where the library writes (the data store, a run folder, a site) instead of the bare
    ``OSError``; whatever was being written is left out, never half-written under its name.
    """

    exit_code = 14

    def __init__(
        self,
        *,
        path: str,
        what: str,
        stage: str | None = None,
        run_id: str | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(
            f"disk full while writing {what}: no space left at {path}",
            hint=kw.pop("hint", "free some space there and run the command again"),
            **kw,
        )
        self.errno = errno.ENOSPC
        self.strerror = "No space left on device"
        self.filename = path
        self.path = path
        self.what = what
        self.stage = stage  # the stage whose run folder it was, if any
        self.run_id = run_id


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the filesystem (or a quota, or SQLite's file) has no room left."""
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError) and exc.errno in NO_SPACE_ERRNOS:
        return True
    return (
        isinstance(exc, sqlite3.OperationalError)
        and getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL
    )


@contextmanager
def disk_full_as_error(path: object, what: str, **facts: Any) -> Iterator[None]:
    """Turn a "no space left" ``OSError`` (ENOSPC, EDQUOT) inside the block into
    :class:`DiskFull` naming what was being written and where (``path``, a folder the user
    knows, rather than the temp file the error may name).
    """
    try:
        yield
    except DiskFull:
        raise
    except (OSError, sqlite3.OperationalError) as exc:
        if not is_disk_full(exc):
            raise
        raise DiskFull(path=str(path), what=what, **facts) from exc


class RemoteRefused(NbtrailError, ValueError):
    """What a remote sent was refused before anything of it was written: a manifest naming a
    path outside where it may write (``..``, an absolute path, another run's folder), or an
    object bigger than its manifest says (or than the cap). Bytes that merely do not match
    their hash are an :class:`IntegrityError` instead."""

    exit_code = 15
