"""Shared fixtures: every test builds its own workspace under tmp_path; a real S3 API (moto's
server on 127.0.0.1) for the remotes."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbtrail.core.workspace import Workspace
from nbtrail.data.remote import Remote

REPO = Path(__file__).resolve().parents[1]

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
