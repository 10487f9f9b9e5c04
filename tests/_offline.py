"""Commands run offline: in a fresh network namespace (``unshare -n``, only loopback up) when
this machine permits one, and always with the audit hook of tests/_netguard/sitecustomize.py
loaded by every Python process through ``PYTHONPATH`` (the kernels too: the runner starts them
with its own environment). The hook names the process and the address that tried; the
namespace stops every packet whoever sends it (libzmq included)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

GUARD = Path(__file__).parent / "_netguard"


def namespace_works() -> bool:
    """Whether ``unshare -n`` (and bringing its loopback up) is permitted here."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


@dataclass(frozen=True)
class Offline:
    """What an offline command did: the process, the connections the hook refused (one line
    each) and the processes that loaded the hook (one line each)."""

    proc: subprocess.CompletedProcess
    refused: list[str]
    guarded: list[str]


def run_offline(
    cmd: list[str],
    cwd: Path,
    logs: Path,
    *,
    netns: bool,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> Offline:
    """``cmd`` offline (in a namespace if ``netns``), its guard logs kept in folder ``logs``;
    ``env``: variables set on top of this process's environment."""
    logs.mkdir(parents=True, exist_ok=True)
    log, loaded = logs / "refused.log", logs / "loaded.log"
    for f in (log, loaded):
        f.unlink(missing_ok=True)
    full = {k: v for k, v in os.environ.items() if k not in ("NBTRAIL_RUN_DIR", "NBTRAIL_ROOT")}
    full.update(env or {})
    full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD), full.get("PYTHONPATH")]))
    full.update(NBTRAIL_NETGUARD_LOG=str(log), NBTRAIL_NETGUARD_LOADED=str(loaded))
    full.setdefault("PYTHONUNBUFFERED", "1")
    argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *cmd]
    proc = subprocess.run(
        argv if netns else cmd,
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    refused = log.read_text().splitlines() if log.is_file() else []
    guarded = loaded.read_text().splitlines() if loaded.is_file() else []
    return Offline(proc, refused, guarded)
