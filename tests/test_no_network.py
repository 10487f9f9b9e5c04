"""Nothing reaches the network at import or during a default run.

Two guards at once, on the same processes (tests/_offline.py): a network namespace made by
the test (``unshare -n``, only loopback up), which stops every packet whoever sends it (libzmq
included), and an audit hook loaded by every Python process through ``PYTHONPATH``
(tests/_netguard/sitecustomize.py), which names the process and the address that tried.
The kernels get the hook too: the runner starts them with its own environment, and each
process notes that it loaded the guard (a kernel forked by the run's fork server inherits the
hook the server loaded: audit hooks live in the interpreter, which the fork copies). Where ``unshare`` is not permitted (not root), the
audit hook alone guards and the test says so in its output. The default run is the shared
one (``default_run``, made offline for every test that starts from it).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _offline import namespace_works, run_offline
from _project import by_stage

STAGES = ("data", "train", "evaluate", "export", "monitor")

IMPORT_EVERY_MODULE = """\
import importlib, pkgutil, nbtrail
names = [m.name for m in pkgutil.walk_packages(nbtrail.__path__, "nbtrail.")
         if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory):
    """``run(cmd, cwd)``: ``cmd`` offline; returns (process, refusals, processes guarded)."""
    top = tmp_path_factory.mktemp("offline")
    netns = namespace_works()
    if not netns:
        print("test_no_network: unshare -n not permitted here; the audit hook alone guards")

    def run(cmd: list[str], cwd: Path, timeout: float = 900):
        done = run_offline(cmd, cwd, top, netns=netns, timeout=timeout)
        return done.proc, done.refused, done.guarded

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
def test_a_default_run_reaches_nothing(default_run) -> None:
    assert default_run.netns == namespace_works()
    assert default_run.refused == [], default_run.refused
    groups = by_stage(default_run.root)
    assert sorted(groups) == sorted(STAGES)
    assert all(r["status"] == "completed" for rs in groups.values() for r in rs)
    # every stage's kernel had the hook: loaded by a kernel started cold, inherited by a kernel
    # forked from the run's fork server (which loaded it at its start)
    cold = [g for g in default_run.guarded if "ipykernel_launcher" in g]
    servers = [g for g in default_run.guarded if "nbtrail.pipeline.zygote" in g]
    forked = [r for rs in groups.values() for r in rs if r["extra"]["kernel"].get("forked")]
    assert len(cold) + len(forked) >= len(STAGES), default_run.guarded
    assert servers or not forked, default_run.guarded
