"""A kernel that dies before it answers is started again on fresh ports.

The client picks a kernel's ports (bind to port 0, release) and the kernel binds them a moment
later; another process starting a kernel in between can take one (papermill#511: eight
``nbtrail run`` at once lost this race once in CI). These tests make the race's losing outcome
certain: a socket of the test's holds a port, and jupyter_client's port picker hands that port
out. The kernels are real ipykernel processes and the bind failure is the kernel's own.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyter_client.provisioning.local_provisioner import LocalPortCache

from nbtrail.pipeline import kernels


@pytest.fixture
def taken_port() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def _notebook(tmp_path: Path) -> Path:
    nb = tmp_path / "notebooks" / "tiny.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
    return nb


def test_a_kernel_that_loses_the_port_race_is_started_again(tmp_path, taken_port, monkeypatch):
    picked: list[int] = []
    pick = LocalPortCache.find_available_port

    def first_pick_is_taken(self, ip):
        picked.append(taken_port if not picked else pick(self, ip))
        return picked[-1]

    monkeypatch.setattr(LocalPortCache, "find_available_port", first_pick_is_taken)
    nb = _notebook(tmp_path)
    log = tmp_path / "kernel.log"
    wk = kernels.start("tiny", nb, nb.parent, log, warm=False)
    try:
        km = kernels.bind(wk, {"NBTRAIL_PROBE": "1"})
        assert wk.extra["starts"] == 2
        assert taken_port not in {km.shell_port, km.iopub_port, km.stdin_port, km.hb_port}
        assert "Address already in use" in log.read_text()  # the first kernel's own words
    finally:
        kernels.shutdown(wk)


def test_a_kernel_that_always_dies_is_reported_after_three_starts(
    tmp_path, taken_port, monkeypatch
):
    monkeypatch.setattr(LocalPortCache, "find_available_port", lambda self, ip: taken_port)
    nb = _notebook(tmp_path)
    log = tmp_path / "kernel.log"
    wk = kernels.start("tiny", nb, nb.parent, log, warm=True)
    with pytest.raises(RuntimeError, match="died before it answered, 3 starts in a row"):
        kernels.bind(wk, {})
    assert log.read_text().count("Address already in use") == kernels.START_ATTEMPTS
    kernels.shutdown(wk)  # nothing to stop; never raises
