"""The fork server: one process that imports ipykernel and the notebooks' scientific stack
once, then forks a fresh kernel for each stage (``python -m nbtrail.pipeline.zygote``).

Started by :class:`nbtrail.pipeline.forkserver.ForkServer` with the kernels' interpreter,
flags and environment, it listens on a Unix socket (``SOCK_SEQPACKET``, in a private 0700
folder; a peer of another uid is refused) and imports what it was asked to. Each connection
is a kernel launcher (:mod:`nbtrail.pipeline.forklaunch`) sending the kernel's argv, working
folder, environment and its stdin, stdout and stderr. When the argv is this interpreter's
``-m ipykernel_launcher`` and the environment is the server's (but for jupyter_client's
``JPY_*`` variables), the server forks; the child becomes the kernel:

- a new session and process group, the launcher's three streams, its working folder and
  environment, fresh random state (numpy's global generator is reseeded from the OS, as a new
  process would seed it; Python's ``random`` reseeds itself after a fork);
- a thread that kills the kernel's process group when the launcher's end of the connection
  closes (the launcher was killed);
- then ipykernel's own ``launch_new_instance`` with ``-f CONNECTION_FILE``.

No kernel state is shared: each child starts from the server's imports alone, and the server
never executes notebook code. The server reaps its children and sends each one's exit code to
its launcher. It exits when its standard input closes (the process that started it is gone).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import sys
import threading
from typing import Any

MAX_MESSAGE = 1 << 20
ENV_IGNORED_PREFIX = "JPY_"  # jupyter_client sets these per kernel (its parent pid, ...)
ENV_IGNORED = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})  # a shell's bookkeeping
READY = b"ready\n"


def env_differences(asked: dict[str, str], started: dict[str, str]) -> list[str]:
    """The variables (names only) in which ``asked`` differs from ``started`` (the server's
    environment when it started), but for jupyter_client's and a shell's own."""
    return sorted(
        k
        for k in {*asked, *started}
        if not k.startswith(ENV_IGNORED_PREFIX)
        and k not in ENV_IGNORED
        and asked.get(k) != started.get(k)
    )


def refusal(request: dict[str, Any], prefix: list[str], started: dict[str, str]) -> str | None:
    """Why this server, started as ``prefix -m nbtrail.pipeline.zygote``, will not fork the
    kernel ``request`` asks for (None: it will)."""
    argv = request.get("argv")
    if not isinstance(argv, list) or len(argv) < 4 or argv[-4:-2] != ["-m", "ipykernel_launcher"]:
        return "not an ipykernel_launcher command"
    if argv[:-4] != prefix:
        return f"another interpreter or flags: {' '.join(argv[:-4])}"
    env = request.get("env")
    if not isinstance(env, dict):
        return "no environment"
    differ = env_differences(env, started)
    if differ:
        return f"another environment: {', '.join(differ[:5])}"
    if not isinstance(request.get("cwd"), str):
        return "no working folder"
    return None


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[2])


def _send(conn: socket.socket, message: dict[str, Any]) -> None:
    try:
        conn.send(json.dumps(message).encode())
    except OSError:
        pass  # the launcher is gone: nobody to tell


def preload(modules: list[str]) -> list[str]:
    """Import ``modules`` (those that fail are left for the notebook to fail on); returns
    the ones that failed."""
    import importlib

    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def listen(path: str) -> socket.socket:
    """The server's socket at ``path``, listening (launchers queue there while it imports)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(64)
    return listener


def serve(
    listener: socket.socket,
    path: str,
    prefix: list[str],
    started: dict[str, str],
    later: list[str],
) -> tuple[socket.socket, dict[str, Any], list[int]]:
    """Answer launchers on ``listener`` until standard input closes, importing the modules
    ``later`` one by one while no launcher waits; returns only in a forked child, with its
    connection, request and streams."""
    server_pid = os.getpid()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner's Ctrl-C is for the runner
    children: dict[int, socket.socket] = {}
    try:
        while True:
            try:
                idle = 0 if later else None
                ready, _, _ = select.select([listener, sys.stdin, wake_r], [], [], idle)
            except InterruptedError:
                continue
            if not ready:
                failed = preload([later.pop(0)])
                if failed:
                    print(f"nbtrail fork server: could not import {failed[0]}", file=sys.stderr)
                continue
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):
                return _exit_server(children)
            if wake_r in ready:
                os.read(wake_r, 4096)
            _reap(children)
            if listener not in ready:
                continue
            conn, _ = listener.accept()
            got = _fork_for(conn, prefix, started)
            if got is None:
                conn.close()
                continue
            pid, request, fds = got
            if pid == 0:  # the kernel: leave the server's loop for good
                signal.set_wakeup_fd(-1)
                for fd in (wake_r, wake_w):
                    os.close(fd)
                listener.close()
                for other in children.values():
                    other.close()
                return conn, request, fds
            children[pid] = conn
            _send(conn, {"pid": pid})
    finally:
        if os.getpid() == server_pid:
            try:
                os.unlink(path)
            except OSError:
                pass


def _exit_server(children: dict[int, socket.socket]) -> Any:
    for conn in children.values():
        conn.close()
    raise SystemExit(0)


def _reap(children: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


def _fork_for(
    conn: socket.socket, prefix: list[str], started: dict[str, str]
) -> tuple[int, dict[str, Any], list[int]] | None:
    """Read one launcher's request and fork its kernel: (pid, request, streams), pid 0 in
    the child; None when the request is refused (the launcher is told why)."""
    try:
        if _peer_uid(conn) != os.getuid():
            _send(conn, {"why": "another user"})
            return None
        data, fds, _flags, _addr = socket.recv_fds(conn, MAX_MESSAGE, 8)
        request = json.loads(data)
    except (OSError, ValueError) as exc:
        _send(conn, {"why": f"unreadable request: {exc}"})
        return None
    why = refusal(request, prefix, started) if len(fds) == 3 else "not three streams"
    if why is not None:
        for fd in fds:
            os.close(fd)
        _send(conn, {"why": why})
        return None
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid != 0:
        for fd in fds:
            os.close(fd)
    return pid, request, fds


def _die_with_launcher(conn: socket.socket) -> None:
    """Kill this kernel's process group once its launcher's end of ``conn`` closes."""
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass
    os.killpg(0, signal.SIGKILL)


def become_kernel(
    conn: socket.socket, request: dict[str, Any], fds: list[int], started: dict[str, str]
) -> None:
    """In the forked child: take the launcher's streams, folder and environment (with the
    variables that the server's imports set since it ``started``, as they would have set them
    in a kernel of its own), and run ipykernel as ``python -m ipykernel_launcher -f FILE``
    would."""
    imported = {k: v for k, v in os.environ.items() if started.get(k) != v}
    for sig in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.environ.update(imported)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # as a fresh import would seed it
    threading.Thread(
        target=_die_with_launcher, args=(conn,), name="nbtrail-launcher-watch", daemon=True
    ).start()
    import ipykernel_launcher

    sys.argv = [ipykernel_launcher.__file__, *request["argv"][-2:]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def main() -> None:
    """``python -m nbtrail.pipeline.zygote SOCKET MODULES_JSON PREFIX_JSON``: MODULES_JSON is
    two lists, the modules imported before the first kernel is forked and those imported
    while no launcher waits."""
    path, prefix = sys.argv[1], json.loads(sys.argv[3])
    first, later = json.loads(sys.argv[2])
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]  # as ipykernel_launcher does; the kernel's shell adds its own folder
    started = dict(os.environ)
    listener = listen(path)
    sys.stdout.write(READY.decode())  # launchers may connect now: they queue while it imports
    sys.stdout.flush()
    os.dup2(2, 1)  # the rest of what it prints goes to its log, not to the pipe
    failed = preload(first)
    if failed:
        print(f"nbtrail fork server: could not import {', '.join(failed)}", file=sys.stderr)
    become_kernel(*serve(listener, path, prefix, started, later), started)


if __name__ == "__main__":
    main()
