"""Shared fixtures: every test builds its own workspace under tmp_path (or copies the one
default pipeline run that the tests share, ``default_run``); a real S3 API (moto's server on
127.0.0.1) for the remotes; the tests' thread pools and the order the modules start in."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _offline import namespace_works, run_offline
from _project import THREAD_POOLS, make_project

from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote

REPO = Path(__file__).resolve().parents[1]

# A fake credential in the environment of the shared default run: nothing may copy it into a
# record, a notebook or a published page (tests/test_browser_site.py looks for it).
SECRET_NAME = "NBTRAIL_TEST_FAKE_TOKEN"
SECRET = "sk-nbtrail-fake-4f1c9e0d2b7a6c5e"

MINIMAL_PIPELINE = """\
version: 1
stages: {}
"""


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    """An empty workspace (a folder with params/pipeline.yaml) in a temporary folder."""
    root = tmp_path / "project"
    (root / "params").mkdir(parents=True)
    (root / "params" / "pipeline.yaml").write_text(MINIMAL_PIPELINE)
    (root / "workspace").mkdir()
    return Workspace(root)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server per test process (each test has its own bucket): starting one takes
    5-30 s on a loaded machine, so the S3 tests of every module share it."""
    exe = Path(sys.executable).parent / "moto_server"
    if not exe.exists():
        pytest.fail(f"moto_server not installed next to {sys.executable}")
    port = _free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto_server did not start")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def s3_remote(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Remote:
    # Region through the environment: passing region_name to s3fs breaks bucket creation.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"nbtrail-{uuid.uuid4().hex[:12]}"
    remote = Remote(f"s3://{bucket}/team/data", {"endpoint_url": moto_endpoint})
    fs, _ = remote.filesystem()
    fs.mkdir(bucket)
    return remote


@dataclass(frozen=True)
class DefaultRun:
    """The default pipeline after one ``nbtrail run`` on a fresh copy of the project, run
    offline (tests/_offline.py) with :data:`SECRET` planted in its environment: its folder
    (never to be changed: take a :meth:`copy`), what the run printed on stdout, the Jupyter data dir
    where the runner signed the notebooks it executed, and what the network guard saw
    (``refused`` connections, ``guarded`` processes, ``netns``: in a network namespace)."""

    root: Path
    stdout: str
    jupyter_data: Path
    refused: list[str]
    guarded: list[str]
    netns: bool

    def copy(self, dest: Path) -> tuple[Path, Path]:
        """A copy of the project at ``dest`` and of the Jupyter data dir beside it."""
        shutil.copytree(self.root, dest, symlinks=True)
        data = dest.parent / f"{dest.name}-jupyter-data"
        shutil.copytree(self.jupyter_data, data)
        return dest, data


def _run_default(base: Path) -> dict[str, Any]:
    root = make_project(base / "project")
    data = base / "jupyter-data"
    data.mkdir()
    netns = namespace_works()
    env = {"JUPYTER_DATA_DIR": str(data), SECRET_NAME: SECRET}
    cmd = [sys.executable, "-m", "nbtrail", "-C", str(root), "run"]
    done = run_offline(cmd, root, base / "netguard", netns=netns, env=env)
    out = done.proc
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    return {
        "stdout": out.stdout,
        "refused": done.refused,
        "guarded": done.guarded,
        "netns": netns,
    }


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> DefaultRun:
    """One default pipeline run for every test that starts from it (~1 min of 2 cores each):
    made once per ``pytest`` invocation, by whichever xdist worker asks first, under a lock
    in the folder the workers share; the others wait for it and read it."""
    if worker_id == "master":
        base = tmp_path_factory.mktemp("default-run")
    else:
        base = tmp_path_factory.getbasetemp().parent / "default-run"
        base.mkdir(exist_ok=True)
    done = base / "printed.json"
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.is_file():
                for leftover in ("project", "jupyter-data"):  # a worker that failed half-way
                    shutil.rmtree(base / leftover, ignore_errors=True)
                done.write_text(json.dumps(_run_default(base)))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    p = json.loads(done.read_text())
    return DefaultRun(
        base / "project",
        p["stdout"],
        base / "jupyter-data",
        p["refused"],
        p["guarded"],
        p["netns"],
    )


# The thread pools of OpenMP (scikit-learn's HistGradientBoosting) and BLAS in every process a
# test starts (the CLI, kernels, Dask workers) get one thread: two xdist workers already keep
# both cores busy, and a second thread per pool only spins waiting for a core. Measured with
# `-n 2 --dist load tests/test_e2e_tasks.py`: 182 s wall and 283 s CPU by default, 114 s and
# 155 s with one thread. A variable the caller set is left as it is.


def pytest_configure(config: pytest.Config) -> None:
    """One thread per OpenMP and BLAS pool in the processes of the tests (see above)."""
    for var in THREAD_POOLS:
        os.environ.setdefault(var, "1")


# The modules that take longest (``make test PYTEST_ARGS=--durations=40``), started first so
# that the two workers end together; ``make test`` runs with --no-loadscope-reorder, else xdist
# would start the modules with the most tests first and these last.
LONGEST_FIRST = (
    "test_e2e.py",  # makes the shared default run
    "test_readme_commands.py",
    "test_notebooks.py",
    "test_e2e_tasks.py",
    "test_sweep_dask.py",
    "test_browser_site.py",
    "test_watch.py",
    "test_browser.py",
    "test_widgets_pipeline.py",
    "test_sweep_remote.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order the modules: :data:`LONGEST_FIRST`, then the rest as collected."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
