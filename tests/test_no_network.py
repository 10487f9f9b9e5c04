"""Nothing reaches the network at import or during a default run.

Two guards at once, on the same processes: a network namespace made by the test
(``unshare -n``, only loopback up), which stops every packet whoever sends it (libzmq
included), and an audit hook loaded by every Python process through ``PYTHONPATH``
(tests/_netguard/sitecustomize.py), which names the process and the address that tried.
The kernels get the hook too: the runner starts them with its own environment, and each
process notes that it loaded the guard. Where ``unshare`` is not permitted (not root), the
audit hook alone guards and the test says so in its output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _project import by_stage, make_project

GUARD = Path(__file__).parent / "_netguard"
STAGES = ("data", "train", "evaluate", "export", "monitor")

IMPORT_EVERY_MODULE = """\
import importlib, pkgutil, nbtrail
names = [m.name for m in pkgutil.walk_packages(nbtrail.__path__, "nbtrail.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def _namespace_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory):
    """``run(cmd, cwd)``: ``cmd`` in a fresh network namespace (when permitted) with the
    audit hook in every Python process; returns (process, refusals, processes guarded)."""
    top = tmp_path_factory.mktemp("offline")
    netns = _namespace_works()
    if not netns:
        print("test_no_network: unshare -n not permitted here; the audit hook alone guards")

    def run(cmd: list[str], cwd: Path, timeout: float = 900):
        log, loaded = top / "refused.log", top / "loaded.log"
        for f in (log, loaded):
            f.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("NBTRAIL_RUN_DIR", "NBTRAIL_ROOT")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD), env.get("PYTHONPATH")]))
        env.update(NBTRAIL_NETGUARD_LOG=str(log), NBTRAIL_NETGUARD_LOADED=str(loaded))
        argv = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "offline", *cmd]
        proc = subprocess.run(
            argv if netns else cmd,
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        refused = log.read_text().splitlines() if log.is_file() else []
        guarded = loaded.read_text().splitlines() if loaded.is_file() else []
        return proc, refused, guarded

    run.netns = netns  # type: ignore[attr-defined]
    return run


def test_the_guards_refuse_and_name_an_outside_connection(offline, tmp_path) -> None:
    """The control: loopback works, an outside address is refused and named."""
    code = (
        "import socket\n"
        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
        "socket.create_connection(s.getsockname(), timeout=5).close()\n"
        "socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
    )
    proc, refused, guarded = offline([sys.executable, "-c", code], tmp_path)
    assert proc.returncode == 1 and "network guard" in proc.stderr, proc.stderr
    assert len(refused) == 1 and "'192.0.2.1'" in refused[0], refused
    assert len(guarded) == 1
    if offline.netns:  # without the hook, the namespace alone refuses it as well
        outside = "import socket; socket.create_connection(('192.0.2.1', 80), timeout=5)"
        bare = subprocess.run(
            ["unshare", "-n", sys.executable, "-c", outside],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert bare.returncode == 1 and "unreachable" in bare.stderr.lower(), bare.stderr


def test_importing_every_module_reaches_nothing(offline, tmp_path) -> None:
    proc, refused, _ = offline([sys.executable, "-c", IMPORT_EVERY_MODULE], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.strip()) > 100
    assert refused == []


@pytest.mark.slow
def test_a_default_run_reaches_nothing(offline, tmp_path) -> None:
    root = make_project(tmp_path / "p")
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(root), "run", "--progress", "off"]
    proc, refused, guarded = offline(cmd, root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert refused == [], refused
    groups = by_stage(root)
    assert sorted(groups) == sorted(STAGES)
    assert all(r["status"] == "completed" for rs in groups.values() for r in rs)
    kernels = [g for g in guarded if "ipykernel" in g]
    assert len(kernels) >= len(STAGES), guarded  # every stage's kernel had the hook
