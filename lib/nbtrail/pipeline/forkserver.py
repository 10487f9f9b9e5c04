"""A fork server for one runner's kernels: the imports paid once, a fresh process per stage.

Each stage runs in a kernel of its own, and a kernel's start is mostly imports (ipykernel,
pandas, scikit-learn: about a second of CPU each time). :class:`ForkServer` starts one process
(:mod:`nbtrail.pipeline.zygote`) with the kernels' interpreter, flags and environment, which
imports ipykernel and the scientific part of what the plan's notebooks import, then forks a
kernel for each stage on request. jupyter_client starts a small launcher
(:mod:`nbtrail.pipeline.forklaunch`) in the kernel's place, which asks the server for the
kernel and stands in for it (signals, exit code, death). A launcher that cannot use the server
starts the kernel cold, the usual way; so does a runner whose kernelspec is not
``python -m ipykernel_launcher``. Set ``NBTRAIL_FORK_SERVER=0`` to start every kernel cold.

Only modules of :data:`PRELOADED_ROOTS` are imported in the server: they do not look at their
surroundings when imported. Others (matplotlib's pyplot picks a backend, ipywidgets registers
with a running kernel, tqdm.auto and plotly probe for a notebook) are imported in each kernel
by its warm-up, as before.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nbtrail.pipeline.kernels import NBTRAIL_LAZY

ENABLE_ENV = "NBTRAIL_FORK_SERVER"
KERNEL_TAIL = ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
READY_TIMEOUT_S = 10.0
KERNEL_MODULES = ["ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell"]
PRELOADED_ROOTS = frozenset(
    {"numpy", "pandas", "scipy", "sklearn", "pyarrow", "skops", "joblib", "nbtrail"}
)
LAUNCHER = Path(__file__).with_name("forklaunch.py")


def enabled(environ: dict[str, str] | None = None) -> bool:
    """Whether kernels may be forked here: a POSIX system with ``fork`` and Unix
    ``SOCK_SEQPACKET`` sockets, and ``NBTRAIL_FORK_SERVER`` not ``0``."""
    env = os.environ if environ is None else environ
    if env.get(ENABLE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return hasattr(os, "fork") and hasattr(socket, "SOCK_SEQPACKET") and sys.platform != "darwin"


def preload_modules(imports: Iterable[str], *, after: Iterable[str] = ()) -> list[list[str]]:
    """What the server imports for the first kernel's notebook, which imports ``imports``, and
    then for the notebooks after it, which import ``after``: ipykernel's modules and those of
    ``imports`` under :data:`PRELOADED_ROOTS` before the first kernel is forked; what nbtrail
    imports lazily (when a notebook saves or loads a model) and those of ``after``, while no
    kernel is asked for. In order, once each."""
    first: list[str] = list(KERNEL_MODULES)
    later: list[str] = []
    uses_nbtrail = False
    for wave, names in ((first, imports), (later, after)):
        for name in names:
            root = name.split(".")[0]
            uses_nbtrail = uses_nbtrail or root == "nbtrail"
            if root in PRELOADED_ROOTS and name not in first and name not in later:
                wave.append(name)
    lazy = [m for m in NBTRAIL_LAZY if uses_nbtrail and m not in first and m not in later]
    return [first, lazy + later]


def _launcher_python() -> str:
    """The interpreter of the launcher (which needs the standard library only): this one."""
    return sys.executable or shutil.which("python3") or "python3"


def _python3_spec() -> Any:
    from jupyter_client.kernelspec import KernelSpecManager

    return KernelSpecManager().get_kernel_spec("python3")


class ForkServer:
    """One fork server process, started at construction; :meth:`spec_manager` gives the
    kernel managers that use it, :meth:`close` stops it. Raises OSError when it cannot start,
    and ValueError when the kernelspec is not one it can serve."""

    def __init__(self, modules: list[list[str]], env: dict[str, str], log_path: Path) -> None:
        self._spec = _python3_spec()
        argv = list(self._spec.argv)
        if argv[-4:] != KERNEL_TAIL or self._spec.env:
            raise ValueError(f"kernelspec python3 runs {' '.join(argv)}: not forked")
        self.prefix = argv[:-4]
        self._dir = tempfile.mkdtemp(prefix="nbtrail-fork-")  # 0700, and a short socket path
        self.socket = os.path.join(self._dir, "s")
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._ready = threading.Event()
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [
                    *self.prefix,
                    "-m",
                    "nbtrail.pipeline.zygote",
                    self.socket,
                    json.dumps(modules),
                    json.dumps(self.prefix),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env=env,
                cwd=self._dir,
            )
        threading.Thread(target=self._await_ready, name="nbtrail-fork-ready", daemon=True).start()

    def _await_ready(self) -> None:
        assert self._proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            if self._proc.stdout.readline():
                self._ready.set()

    def ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Whether the server listens (waiting up to ``timeout`` seconds for it)."""
        return self._ready.wait(timeout) and self._proc.poll() is None

    def spec_manager(self) -> Any:
        """A kernelspec manager whose ``python3`` starts the launcher instead of the kernel."""
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

        base = self._spec
        spec = KernelSpec(
            argv=[_launcher_python(), "-I", "-S", str(LAUNCHER), self.socket, "--", *base.argv],
            display_name=base.display_name,
            language=base.language,
            interrupt_mode=base.interrupt_mode,
            metadata=dict(base.metadata),
            env={},
            resource_dir=base.resource_dir,
        )

        class ForkedSpecs(KernelSpecManager):
            def get_kernel_spec(self, kernel_name: str, *args: Any, **kwargs: Any) -> Any:
                return spec

        return ForkedSpecs()

    def close(self) -> None:
        """Stop the server and remove its socket; never raises. The kernels it forked are
        processes of their own (the runner shuts them down before this): killing the server
        loses nothing, and does not wait for imports it may still be doing."""
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()
        shutil.rmtree(self._dir, ignore_errors=True)


def forked(pid: int | None) -> bool:
    """Whether the kernel process ``pid`` is a fork server's launcher (Linux: its command
    line names :data:`LAUNCHER`); False when it is unknown or started cold."""
    if pid is None:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return LAUNCHER.name.encode() in f.read()
    except OSError:
        return False
