"""``nbtrail monitor watch DIR``: every batch file landing in a folder monitored once.

Each new CSV/Parquet file (dot-files and other suffixes ignored) is monitored by one run of
the monitor stage, ``nbtrail run --stage monitor -p monitor.batch=FILE`` in effect (always
executed, never reused: the batch's content is what changed). A file is known by its name
and the BLAKE3 digest of its content, so a file replaced under the same name is new again.

State: ``workspace/monitoring/watched.jsonl``, append-only, one line per batch monitored
(name, digest, run id, status, exit code), written only once the batch's run has ended, so a
batch is either recorded whole or not at all. One watcher per workspace: a second one is
refused (:class:`~nbtrail.core.errors.Busy`).

SIGTERM (and SIGINT) ask the watcher to stop: the batch being monitored is finished and
recorded, nothing new is started, and :func:`watch` returns. ``once`` monitors what is there
and returns (cron); otherwise the folder is looked at every ``every_s`` seconds.

Writers should land files whole (write elsewhere, then ``mv``): a file is read when it is seen.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from nbtrail.core.applog import log_writer, read_log
from nbtrail.core.errors import Busy, DataError, ParameterError
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.practices.monitoring.batch_sources import BATCH_SUFFIXES

WATCH_STAGE = "monitor"
VERDICT_FAILED = 8  # VerdictFailed's exit code: the batch was monitored and failed


@dataclass(frozen=True)
class Watched:
    """One monitored batch file, as its line in ``watched.jsonl``."""

    name: str
    digest: str
    path: str
    run_id: str | None
    status: str  # pass (exit 0), fail (the verdict failed: exit 8), error (another exit code)
    exit_code: int
    detail: str
    at: str


def state_file(ws: Workspace) -> Path:
    """``workspace/monitoring/watched.jsonl``: the batches already monitored."""
    return ws.monitoring_log.parent / "watched.jsonl"


def watched(ws: Workspace) -> list[dict[str, Any]]:
    """Every line of the state file, oldest first."""
    return read_log(state_file(ws))[0]


def parse_every(text: str) -> float:
    """``10m``, ``30s``, ``1h``, ``90`` (seconds) -> seconds; a bad value is a ParameterError."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = str(text).strip().lower()
    scale = units.get(t[-1:], None)
    try:
        value = float(t[:-1] if scale else t) * (scale or 1)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ParameterError(f"--every must be a duration such as 30s, 10m or 1h, got {text!r}")
    return value


def new_files(ws: Workspace, folder: Path) -> list[tuple[Path, str]]:
    """The batch files in ``folder`` not monitored yet, ``(path, digest)``, oldest first."""
    if not folder.is_dir():
        raise DataError(f"watch folder {folder} does not exist or is not a folder")
    seen = {(r.get("name"), r.get("digest")) for r in watched(ws)}
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in BATCH_SUFFIXES and not p.name.startswith(".")
    ]
    out = []
    for p in sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name)):
        digest = hash_file(p)
        if (p.name, digest) not in seen:
            out.append((p, digest))
    return out


def _monitor_file(
    ws: Workspace, path: Path, overrides: Sequence[str], on_event: Callable[[str], None]
) -> tuple[str | None, int, str]:
    """One monitor run of ``path``: ``(run_id, exit_code, detail)``."""
    from nbtrail.pipeline.plan import plan
    from nbtrail.pipeline.runner import PipelineFailed, Runner

    params = [f"{WATCH_STAGE}.batch={json.dumps(str(path))}", *overrides]
    rp = plan(ws, stage=WATCH_STAGE, overrides=params)
    runner = Runner(ws, force_stages=(WATCH_STAGE,), on_event=on_event)
    try:
        (result,) = runner.run(rp)
    except PipelineFailed as failed:
        err = failed.error
        return err.run_id, err.exit_code, str(err).splitlines()[0]
    return result.run_id, 0, "passed"


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (main thread only; elsewhere nothing is installed)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def ask(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, ask) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


@contextmanager
def _only_watcher(ws: Workspace) -> Iterator[None]:
    from filelock import FileLock, Timeout

    path = state_file(ws)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path) + ".lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise Busy(
            f"another `nbtrail monitor watch` holds {ws.relative(path)}.lock",
            hint="stop it first; one watcher per workspace",
        ) from None
    try:
        yield
    finally:
        lock.release()


def watch(
    ws: Workspace,
    folder: str | Path,
    *,
    every_s: float = 600.0,
    once: bool = False,
    overrides: Sequence[str] = (),
    on_event: Callable[[str], None] | None = None,
    on_batch: Callable[[Watched], None] | None = None,
    stop: threading.Event | None = None,
) -> list[Watched]:
    """Monitor each new batch file in ``folder`` once (see the module docstring); returns the
    batches monitored by this call. ``overrides``: more ``monitor.KEY=VALUE`` parameters
    (``monitor.alert_url=...``); ``on_batch`` is told of each batch once it is recorded.

    A run that ends (passed, failed its verdict, or failed otherwise: an unreadable file) is
    recorded; a bad parameter or a missing upstream run raises before anything is recorded.
    A run that failed while a stop was asked (Ctrl-C reaches the kernel too) is not recorded,
    so the next watch monitors that file again."""
    if any(o.replace(" ", "").startswith(f"{WATCH_STAGE}.batch=") for o in overrides):
        raise ParameterError(
            "the watch sets monitor.batch itself (each file in turn)",
            stage=WATCH_STAGE,
            parameter="batch",
            hint="drop -p monitor.batch; name the folder instead",
        )
    where = Path(folder) if Path(folder).is_absolute() else ws.root / folder
    stop = stop or threading.Event()
    say = on_event or (lambda msg: None)
    done: list[Watched] = []
    with _only_watcher(ws), _stop_on_signals(stop):
        while not stop.is_set():
            for path, digest in new_files(ws, where):
                if stop.is_set():
                    break
                say(f"watch: monitoring {path.name}")
                run_id, code, detail = _monitor_file(ws, path, overrides, say)
                status = "pass" if code == 0 else "fail" if code == VERDICT_FAILED else "error"
                if status == "error" and stop.is_set():
                    say(f"watch: {path.name} interrupted ({detail}); left for the next watch")
                    break
                item = Watched(
                    path.name,
                    digest,
                    str(path),
                    run_id,
                    status,
                    code,
                    detail,
                    datetime.now(UTC).isoformat(timespec="seconds"),
                )
                with log_writer(state_file(ws)) as append:
                    append(asdict(item))
                done.append(item)
                if on_batch is not None:
                    on_batch(item)
            if once:
                break
            stop.wait(every_s)
    return done
