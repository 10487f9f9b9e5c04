"""A network guard that tests/test_no_network.py puts on ``PYTHONPATH``, so every Python
process of a run loads it: the CLI, papermill, each kernel, any helper they start.

An audit hook (PEP 578) sees every ``socket.connect``, ``sendto``, name lookup and
``urllib`` request made through Python; anything aimed outside loopback (127.0.0.0/8, ::1,
``localhost``) or a Unix socket is written to ``$NBTRAIL_NETGUARD_LOG`` with the process
and the address, then refused with ``PermissionError``. Each process also notes that it loaded
the guard in ``$NBTRAIL_NETGUARD_LOADED``, so the test can tell the kernels had it too.
(C code that opens its own sockets, such as libzmq, bypasses Python: the network namespace of
the test covers that.)
"""

from __future__ import annotations

import os
import socket
import sys

_LOG = os.environ.get("NBTRAIL_NETGUARD_LOG")
_LOADED = os.environ.get("NBTRAIL_NETGUARD_LOADED")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def _local(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): a local bind
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES or host in ("", "::1", "0:0:0:0:0:0:0:1"):
        return True
    host = host.removeprefix("::ffff:")
    return host.startswith("127.") and host.replace(".", "").isdigit()


def _address_ok(sock: object, address: object) -> bool:
    if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", None):
        return True
    if isinstance(address, (str, bytes)):
        return True  # a Unix socket path
    if isinstance(address, tuple) and address:
        return _local(address[0])
    return False


def _command() -> str:
    """This process's command line (``sys.argv`` is not final yet while site runs)."""
    try:
        with open(f"/proc/{os.getpid()}/cmdline", "rb") as f:
            raw = f.read().replace(b"\0", b" ").decode(errors="replace")
            return " ".join(raw.split())[:300]
    except OSError:
        return " ".join(sys.argv)[:300]


def _refuse(event: str, what: object) -> None:
    line = f"{os.getpid()} {_command()!r} {event} {what!r}\n"
    if _LOG:
        with open(_LOG, "a") as log:
            log.write(line)
    raise PermissionError(f"network guard: {event} {what!r} is outside loopback")


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        if len(args) >= 2 and args[1] is not None and not _address_ok(args[0], args[1]):
            _refuse(event, args[1])
    elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        if args and not _local(args[0]):
            _refuse(event, args[0])
    elif event == "urllib.Request":
        url = str(args[0]) if args else ""
        host = url.split("://", 1)[-1].split("/", 1)[0].rsplit("@", 1)[-1]
        if url.startswith(("http:", "https:", "ftp:")) and not _local(host.rsplit(":", 1)[0]):
            _refuse(event, url)


sys.addaudithook(_hook)
if _LOADED:
    with open(_LOADED, "a") as note:
        note.write(f"{os.getpid()} {_command()}\n")
