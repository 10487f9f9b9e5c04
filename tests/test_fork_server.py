"""Kernels forked by the fork server are fresh kernels, and behave as started ones do.

Real processes throughout: the server (``python -m nbtrail.pipeline.zygote``), the launcher
jupyter_client starts in the kernel's place, and ipykernel in the forked child. What a kernel
must not share with its siblings (random state, a process of its own), what it must get from
its launcher (working folder, environment, streams), and what must reach it (an interrupt; its
launcher's death) are each checked on a kernel that the record says was forked.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.provisioning.local_provisioner import LocalPortCache

from nbtrail.pipeline import forkserver, kernels, zygote

pytestmark = pytest.mark.skipif(not forkserver.enabled({}), reason="no fork on this system")


def _env() -> dict[str, str]:
    """This process's environment but for pytest's per-phase variable: the server's and the
    kernels' must be the same for the server to fork them."""
    return {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}


def _notebook(tmp_path: Path) -> Path:
    nb = tmp_path / "notebooks" / "tiny.ipynb"
    nb.parent.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "metadata": {}, "source": "import numpy", "outputs": []}
    cell["execution_count"] = None
    nb.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return nb


@pytest.fixture
def server(tmp_path: Path) -> Iterator[forkserver.ForkServer]:
    fs = forkserver.ForkServer(forkserver.preload_modules(["numpy"]), _env(), tmp_path / "fork.log")
    try:
        assert fs.ready(), (tmp_path / "fork.log").read_text()
        yield fs
    finally:
        fs.close()


def _run(km: Any, code: str, timeout: float = 60) -> tuple[str, dict[str, Any]]:
    """What ``code`` printed in the kernel, and its execute reply's content."""

    async def go() -> tuple[str, dict[str, Any]]:
        kc = km.client()
        kc.start_channels()
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        try:
            await kc.wait_for_ready(timeout=timeout)
            reply = await kc.execute_interactive(code, output_hook=hook, timeout=timeout)
            return "".join(out), reply["content"]
        finally:
            kc.stop_channels()

    return asyncio.run(go())


PROBE = """
import json, os, pickle, random, sys
import numpy
class Point:
    def __init__(self, x): self.x = x
back = pickle.loads(pickle.dumps(Point(3)))
print(json.dumps({
    "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "cwd": os.getcwd(),
    "probe": os.environ.get("NBTRAIL_PROBE"), "random": random.random(),
    "np_random": float(numpy.random.random()), "pickled": back.x, "name": __name__,
    "path": sys.path, "argv0": os.path.basename(sys.argv[0]),
}))
"""


def _probe(km: Any) -> dict[str, Any]:
    text, reply = _run(km, PROBE)
    assert reply["status"] == "ok", reply
    return json.loads(text)


def test_forked_kernels_are_fresh_processes_with_their_launchers_folder_and_environment(
    tmp_path, server
):
    nb = _notebook(tmp_path)
    a = kernels.start("a", nb, nb.parent, tmp_path / "a.log", warm=True, env=_env(), fork=server)
    b = kernels.start("b", nb, nb.parent, tmp_path / "b.log", warm=False, env=_env(), fork=server)
    c = kernels.start("c", nb, nb.parent, tmp_path / "c.log", warm=False, env=_env())  # cold
    try:
        probes = []
        for wk in (a, b, c):
            km = kernels.bind(wk, {"NBTRAIL_PROBE": wk.stage})
            assert wk.extra["forked"] is (wk is not c), (tmp_path / f"{wk.stage}.log").read_text()
            probes.append(_probe(km))
    finally:
        for wk in (a, b, c):
            kernels.shutdown(wk)
    pa, pb, pc = probes
    for p, stage in ((pa, "a"), (pb, "b"), (pc, "c")):
        assert p["cwd"] == str(nb.parent) and p["probe"] == stage
        assert p["pgid"] == p["pid"]  # a process group of its own, as a started kernel has
        assert p["pickled"] == 3 and p["name"] == "__main__"
        assert p["argv0"] == "ipykernel_launcher.py"
        assert (
            p["path"] == pc["path"] and "" in p["path"]
        )  # the notebook folder, as IPython puts it
    assert pa["pid"] != pb["pid"] and pa["ppid"] == pb["ppid"]  # siblings, forked by one server
    assert pa["random"] != pb["random"] and pa["np_random"] != pb["np_random"]
    assert kernels_alive([pa["pid"], pb["pid"]], within=10) == []  # shut down means gone


def kernels_alive(pids: list[int], *, within: float) -> list[int]:
    """The pids of ``pids`` still running (not zombies) after waiting up to ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        alive = [p for p in pids if _running(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_interrupt_reaches_a_forked_kernel(tmp_path, server):
    nb = _notebook(tmp_path)
    wk = kernels.start(
        "slow", nb, nb.parent, tmp_path / "slow.log", warm=False, env=_env(), fork=server
    )
    try:
        km = kernels.bind(wk, {})
        assert wk.extra["forked"] is True

        def interrupt_soon() -> None:
            time.sleep(1.0)
            asyncio.run(km.interrupt_kernel())

        import threading

        t = threading.Thread(target=interrupt_soon)
        t0 = time.monotonic()
        t.start()
        _, reply = _run(km, "import time\ntime.sleep(60)")
        t.join()
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
        assert time.monotonic() - t0 < 30
        text, reply = _run(km, "print('still here')")  # the kernel survives an interrupt
        assert text.strip() == "still here"
    finally:
        kernels.shutdown(wk)


def test_a_killed_launcher_takes_its_kernel_and_the_kernels_children_with_it(tmp_path, server):
    nb = _notebook(tmp_path)
    wk = kernels.start("k", nb, nb.parent, tmp_path / "k.log", warm=False, env=_env(), fork=server)
    km = kernels.bind(wk, {})
    code = (
        "import subprocess, sys, os, json\n"
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "print(json.dumps([os.getpid(), c.pid]))"
    )
    text, _ = _run(km, code)
    pids = json.loads(text)
    os.kill(km.provisioner.pid, signal.SIGKILL)  # the launcher: what jupyter_client holds
    assert kernels_alive(pids, within=10) == []
    kernels.shutdown(wk)


def test_a_kernel_asked_for_in_another_environment_starts_cold_and_says_why(tmp_path, server):
    nb = _notebook(tmp_path)
    env = {**_env(), "OMP_NUM_THREADS": "3" if os.environ.get("OMP_NUM_THREADS") != "3" else "4"}
    log = tmp_path / "cold.log"
    wk = kernels.start("cold", nb, nb.parent, log, warm=False, env=env, fork=server)
    try:
        km = kernels.bind(wk, {})
        assert wk.extra["forked"] is False
        text, _ = _run(km, "import os; print(os.environ['OMP_NUM_THREADS'])")
        assert text.strip() == env["OMP_NUM_THREADS"]
    finally:
        kernels.shutdown(wk)
    assert "fork server not used (another environment: OMP_NUM_THREADS)" in log.read_text()


def test_a_launcher_without_a_server_starts_the_kernel_cold(tmp_path, server):
    nb = _notebook(tmp_path)
    server.close()  # the socket is gone
    log = tmp_path / "gone.log"
    wk = kernels.start("gone", nb, nb.parent, log, warm=False, env=_env(), fork=server)
    try:
        km = kernels.bind(wk, {})
        assert wk.extra["forked"] is False
        assert _run(km, "print(1 + 1)")[0].strip() == "2"
    finally:
        kernels.shutdown(wk)


def test_a_forked_kernel_that_loses_the_port_race_is_forked_again(tmp_path, server, monkeypatch):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    picked: list[int] = []
    pick = LocalPortCache.find_available_port

    def first_pick_is_taken(self: Any, ip: str) -> int:
        picked.append(taken if not picked else pick(self, ip))
        return picked[-1]

    monkeypatch.setattr(LocalPortCache, "find_available_port", first_pick_is_taken)
    nb = _notebook(tmp_path)
    log = tmp_path / "race.log"
    wk = kernels.start("race", nb, nb.parent, log, warm=False, env=_env(), fork=server)
    try:
        kernels.bind(wk, {})
        assert wk.extra["starts"] == 2 and wk.extra["forked"] is True
        assert "Address already in use" in log.read_text()
    finally:
        kernels.shutdown(wk)
        holder.close()


def test_the_server_refuses_what_it_cannot_serve():
    prefix = [sys.executable]
    started = {"HOME": "/h", "PATH": "/bin"}
    good = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"],
        "cwd": "/tmp",
        "env": {**started, "JPY_PARENT_PID": "12", "PWD": "/elsewhere"},
    }
    assert zygote.refusal(good, prefix, started) is None
    assert "interpreter" in str(
        zygote.refusal({**good, "argv": ["/other/python", *good["argv"][1:]]}, prefix, started)
    )
    assert "not an ipykernel_launcher" in str(
        zygote.refusal({**good, "argv": ["sh", "-c", "x"]}, prefix, started)
    )
    changed = {**good, "env": {**good["env"], "OMP_NUM_THREADS": "1"}}
    assert zygote.refusal(changed, prefix, started) == "another environment: OMP_NUM_THREADS"
    assert not forkserver.enabled({"NBTRAIL_FORK_SERVER": "0"})


def test_what_the_server_imports_ahead():
    first, later = forkserver.preload_modules(
        ["matplotlib.pyplot", "pandas", "nbtrail.stages", "tqdm.auto"],
        after=["pandas", "sklearn.metrics", "plotly.express"],
    )
    assert first[: len(forkserver.KERNEL_MODULES)] == forkserver.KERNEL_MODULES
    assert "pandas" in first and "nbtrail.stages" in first
    # while idle: what nbtrail imports when a model is saved, then the next notebooks' own
    assert later == ["skops.io", "sklearn.metrics"]
    assert not any(m.startswith(("matplotlib", "tqdm")) for m in first)


def test_a_kernel_forked_before_the_later_imports_still_gets_them_itself(tmp_path):
    """The server forks the first kernel as soon as its notebook's modules are in; a module of
    a later notebook is imported by the server while idle, or by the kernel that needs it."""
    fs = forkserver.ForkServer([["ipykernel.kernelapp"], ["numpy"]], _env(), tmp_path / "f.log")
    try:
        assert fs.ready()
        nb = _notebook(tmp_path)
        wk = kernels.start("k", nb, nb.parent, tmp_path / "k.log", warm=False, env=_env(), fork=fs)
        try:
            km = kernels.bind(wk, {})
            assert wk.extra["forked"] is True
            text, _ = _run(km, "import numpy; print(numpy.arange(3).sum())")
            assert text.strip() == "3"
        finally:
            kernels.shutdown(wk)
    finally:
        fs.close()
