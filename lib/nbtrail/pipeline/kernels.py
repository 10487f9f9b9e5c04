"""Kernels started ahead of time, so a stage does not wait for start-up and imports.

While one stage executes, the runner asks for the next stage's kernel: it is started in a
background thread (working folder: ``notebooks/``) and imports the modules the next
notebook imports, silently (nothing lands in the notebook). When that stage is executed its
run folder is set in the kernel's environment and papermill runs the notebook on it; a kernel
that is not used (the stage was reused from the cache, or the pipeline stopped) is shut down.
Each kernel still serves exactly one stage run: no state passes from one stage to the next.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.pipeline.parameters import read_notebook

if TYPE_CHECKING:
    from nbtrail.pipeline.forkserver import ForkServer

START_TIMEOUT = 120

# A kernel's ports are picked by the client (bind to port 0, release) and bound by the kernel a
# moment later; another process starting a kernel in between can take one, and the kernel dies
# with "Address already in use" before it answers (papermill#511). The race is rare and lost
# once: start again on fresh ports, up to this many starts in all.
START_ATTEMPTS = 3

# papermill's I/O module imports its optional S3 handler whenever boto3 is installed (it is:
# the S3 remote uses it), which costs ~0.25 s of CPU per `nbtrail run`; the runner only reads
# and writes local notebooks. Nothing else imports this papermill-only module.
_UNUSED_PAPERMILL_HANDLERS = ("papermill.s3",)


def import_papermill() -> Any:
    """``papermill``, imported without its S3 handler (``s3://`` notebook paths then say
    boto3 is missing; nbtrail never passes one)."""
    import sys

    if "papermill" in sys.modules:
        return sys.modules["papermill"]
    blocked = [m for m in _UNUSED_PAPERMILL_HANDLERS if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]  # "import m" raises ImportError
    try:
        import papermill
    finally:
        for m in blocked:
            if m in sys.modules and sys.modules[m] is None:
                del sys.modules[m]
    return papermill


def notebook_imports(path: Path) -> list[str]:
    """Top-level modules that a notebook's code cells import (in first-seen order)."""
    nb = read_notebook(path)
    seen: list[str] = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        src = "".join(cell.get("source", ""))
        try:
            tree = ast.parse(src)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                if n not in seen:
                    seen.append(n)
    return seen


# What nbtrail's notebook API imports only when first called (saving or loading a model): a
# notebook that imports nbtrail gets them imported ahead of its cells too.
NBTRAIL_LAZY = ("skops.io",)


def warm_modules(path: Path) -> list[str]:
    """What a kernel's warm-up imports for the notebook at ``path``: its imports, and what
    nbtrail imports lazily when the notebook uses nbtrail."""
    names = notebook_imports(path)
    if any(n.split(".")[0] == "nbtrail" for n in names):
        names += [m for m in NBTRAIL_LAZY if m not in names]
    return names


def _warm_code(modules: list[str]) -> str:
    """Kernel code importing ``modules``. An import that fails here is ignored on purpose:
    the notebook's own import of it then fails in its cell, where the user sees the error."""
    lines = ["import importlib as _il"]
    lines.append(f"for _m in {json.dumps(modules)}:")
    lines.append("    try:\n        _il.import_module(_m)\n    except Exception:\n        pass")
    lines.append("del _il, _m")
    return "\n".join(lines)


async def _execute_silently(km: Any, code: str | None, *, answered: bool = False) -> None:
    """Wait until the kernel answers, then run ``code`` in it (when given) without output.
    A kernel that has ``answered`` already is sent ``code`` at once: jupyter_client's wait for
    readiness costs at least 0.2 s (it waits for IOPub to fall quiet), and this needs only
    the shell channel's reply."""
    kc = km.client()
    if answered:
        kc.start_channels(iopub=False, stdin=False, hb=False)
    else:
        kc.start_channels()
    try:
        if not answered:
            await kc.wait_for_ready(timeout=START_TIMEOUT)
        if code is None:
            return
        msg_id = kc.execute(code, silent=True, store_history=False)
        while True:
            msg = await kc.get_shell_msg(timeout=START_TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id:
                return
    finally:
        kc.stop_channels()


@dataclass
class WarmKernel:
    """A kernel starting (or started) in a background thread. ``extra`` holds its timings
    (seconds): ``start_s`` to launch its process (all its starts), ``warmup_s`` until it had
    answered and imported the notebook's modules ahead of its cells, ``waited_s`` that the
    stage waited for it; and ``starts``, how many processes it took (one that died before it
    answered is started again, see ``START_ATTEMPTS``); ``forked``, whether it was forked by
    the run's fork server (:mod:`nbtrail.pipeline.forkserver`) rather than started cold."""

    stage: str
    log_path: Path
    thread: threading.Thread | None = None
    km: Any = None
    error: BaseException | None = None
    used: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def wait(self) -> Any:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error
        return self.km


def start(
    stage: str,
    notebook: Path,
    cwd: Path,
    log_path: Path,
    *,
    warm: bool,
    env: dict[str, str] | None = None,
    fork: ForkServer | None = None,
) -> WarmKernel:
    """Start a kernel for ``stage`` in the background, importing what ``notebook`` imports;
    its environment is ``env`` (default: this process's). With ``fork``, the kernel is forked
    by that server when it is up (started with the same environment), else started cold."""
    from jupyter_client.manager import AsyncKernelManager

    log_path.parent.mkdir(parents=True, exist_ok=True)
    wk = WarmKernel(stage=stage, log_path=log_path)
    modules = warm_modules(notebook) if warm else []
    kernel_env = dict(os.environ if env is None else env)

    def target() -> None:
        import asyncio

        async def go() -> Any:
            t0 = time.perf_counter()
            forking = fork is not None and fork.ready()
            specs = {"kernel_spec_manager": fork.spec_manager()} if fork and forking else {}
            for attempt in range(1, START_ATTEMPTS + 1):
                km = AsyncKernelManager(kernel_name="python3", **specs)
                with open(log_path, "ab") as log:
                    await km.start_kernel(
                        env=dict(kernel_env), cwd=str(cwd), stdout=log, stderr=log
                    )
                t1 = time.perf_counter()
                try:
                    await _execute_silently(km, _warm_code(modules) if modules else None)
                except RuntimeError:
                    if await km.is_alive():
                        raise  # alive but silent for START_TIMEOUT: starting again won't help
                    with contextlib.suppress(Exception):  # reap it, drop its connection file
                        await km.shutdown_kernel(now=True)
                    if attempt == START_ATTEMPTS:
                        raise RuntimeError(
                            f"the kernel died before it answered, {attempt} starts in a row;"
                            " its output is in kernel.log in the run folder"
                        ) from None
                    continue
                break
            from nbtrail.pipeline.forkserver import forked

            wk.extra.update(
                start_s=round(t1 - t0, 3),
                warmup_s=round(time.perf_counter() - t1, 3),
                starts=attempt,
                forked=forked(getattr(km.provisioner, "pid", None)),
            )
            return km

        try:
            wk.km = asyncio.run(go())
        except BaseException as exc:  # handed to the thread that waits for this kernel
            wk.error = exc

    wk.thread = threading.Thread(target=target, name=f"nbtrail-kernel-{stage}", daemon=True)
    wk.thread.start()
    return wk


def bind(wk: WarmKernel, env: dict[str, str]) -> Any:
    """Wait for the kernel, set ``env`` in it for the stage run, and return its manager."""
    import asyncio

    t0 = time.perf_counter()
    km = wk.wait()
    assign = "; ".join(f"_os.environ[{k!r}] = {v!r}" for k, v in env.items())
    asyncio.run(_execute_silently(km, f"import os as _os; {assign}; del _os", answered=True))
    wk.extra["waited_s"] = round(time.perf_counter() - t0, 3)  # until it answered
    wk.used = True
    return km


def shutdown(wk: WarmKernel) -> None:
    """Stop the kernel (waiting for its start first); never raises. A kernel that failed to
    start has nothing to stop (its error was raised to the stage that waited for it), and a
    kernel that will not shut down politely is killed."""
    import asyncio

    try:
        km = wk.wait()
    except BaseException:
        return
    if km is None:
        return
    try:
        asyncio.run(km.shutdown_kernel(now=True))
    except Exception:
        if km.provisioner is not None:
            with contextlib.suppress(Exception):  # already gone
                asyncio.run(km.provisioner.kill())


def shutdown_in_background(wk: WarmKernel) -> threading.Thread:
    """:func:`shutdown` in a thread, so the next stage need not wait for it; join it."""
    thread = threading.Thread(target=shutdown, args=(wk,), name=f"nbtrail-stop-{wk.stage}")
    thread.start()
    return thread
