"""The kernel process jupyter_client starts when a fork server runs: it asks the server for a
kernel and stands in for it until it ends.

Run by path with ``python -I -S forklaunch.py SOCKET -- KERNEL_ARGV...`` (standard library
only, so it starts in ~20 ms). It sends the kernel's argv, working folder and environment to
the fork server (:mod:`nbtrail.pipeline.zygote`) at ``SOCKET``, with its own stdin, stdout
and stderr, and the server forks a kernel that uses them. From then on this process is the
kernel as jupyter_client sees it:

- the signals jupyter_client sends (an interrupt, a terminate) are passed on to the kernel's
  process group;
- it exits when the kernel exits, with its exit code (the server reports it);
- when this process is killed (``SIGKILL`` on a forced shutdown), the kernel sees its end of
  the connection close and kills its process group; when the process that started this one
  dies, this one exits too (as ipykernel does when its parent goes).

When the server cannot be reached, or refuses (another interpreter, another environment),
this process becomes the kernel the usual way: it ``exec``s ``KERNEL_ARGV``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
from typing import NoReturn

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)
POLL_PARENT_S = 1.0


def cold(argv: list[str], why: str) -> NoReturn:
    """Become the kernel the usual way (never returns)."""
    print(f"nbtrail: fork server not used ({why}); starting the kernel cold", file=sys.stderr)
    sys.stderr.flush()
    os.execv(argv[0], argv)


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        print("usage: forklaunch.py SOCKET -- KERNEL_ARGV...", file=sys.stderr)
        return 2
    path, argv = args[0], args[2:]
    parent = os.getppid()
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        conn.connect(path)
        request = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        answer = json.loads(conn.recv(65536) or b"{}")
    except (OSError, ValueError) as exc:
        cold(argv, f"{type(exc).__name__}: {exc}")
    if "pid" not in answer:
        cold(argv, answer.get("why", "no answer"))
    child = int(answer["pid"])

    def forward(signum: int, _frame: object) -> None:
        try:
            os.killpg(child, signum)
        except OSError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    while True:
        try:
            ready, _, _ = select.select([conn], [], [], POLL_PARENT_S)
        except InterruptedError:
            continue
        if not ready:
            if os.getppid() != parent:  # whoever started the kernel is gone
                forward(signal.SIGKILL, None)
                return 1
            continue
        try:
            data = conn.recv(65536)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            return 1  # the server and the kernel are gone without a word
        code = json.loads(data).get("exit", 1)
        return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
