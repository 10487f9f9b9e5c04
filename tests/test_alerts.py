"""Alerts: a failed verdict POSTed to a real ``http.server`` on 127.0.0.1, retries with
backoff on 5xx, none on 4xx, and an unreachable URL reported, never raised.

The end-to-end side (``nbtrail run --alert-url``, a closed port, the run's exit code, the
delivery in the run record) is in ``tests/test_watch.py``, which shares one pipeline run.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.webhook import post_json
from nbtrail.practices import monitoring as m


class Hook:
    """A webhook on 127.0.0.1: answers each POST with the next of ``codes`` (then 200)."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.bodies: list[dict] = []
        self.codes = list(codes or [])
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.bodies.append(json.loads(body))
                self.send_response(hook.codes.pop(0) if hook.codes else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def verdicts() -> list[m.Verdict]:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=300) for i in range(4)})
    same = pd.DataFrame({f"x{i}": rng.normal(size=200) for i in range(4)})
    moved = same.assign(x0=same["x0"] + 2)
    return m.check_batches(ref, {"ok": same, "moved": moved}, target=None)


def test_a_failed_verdict_reaches_the_webhook(hook):
    vs = verdicts()
    assert [v.status for v in vs] == [m.PASS, m.FAIL]
    links = {"run_dir": "/w/runs/r1", "reports": {"moved": "/w/runs/r1/outputs/drift_moved.html"}}
    alert = m.send_alert(hook.url, vs, run_id="monitor-r1", links=links)
    assert alert["sent"] and alert["delivered"], alert
    assert alert["delivery"]["attempts"] == 1 and alert["delivery"]["status"] == 200
    (body,) = hook.bodies
    assert body["status"] == "fail" and body["run_id"] == "monitor-r1"
    assert body["links"] == links and body["batches_checked"] == 2
    (batch,) = body["batches"]
    assert batch["batch"] == "moved" and batch["status"] == m.FAIL
    assert "data_drift" in batch["failed_checks"] and batch["drifted_columns"] == ["x0"]
    assert m.alert_line(alert).startswith(f"alert: sent to {hook.url}")


def test_nothing_is_sent_when_every_batch_passed_or_no_url_is_set(hook):
    vs = verdicts()
    passed = m.send_alert(hook.url, vs[:1], run_id="r")
    assert not passed["sent"] and passed["reason"] == "every batch passed"
    no_url = m.send_alert("", vs, run_id="r")
    assert not no_url["sent"] and no_url["reason"] == "no alert_url set"
    assert hook.bodies == []


def test_server_errors_are_retried_with_backoff_and_client_errors_are_not():
    waits: list[float] = []
    h = Hook([503, 500])
    try:
        sent = post_json(h.url, {"n": 1}, retries=2, backoff_s=0.25, sleep=waits.append)
        assert sent.ok and sent.attempts == 3 and waits == [0.25, 0.5]
        h.codes = [404]
        refused = post_json(h.url, {"n": 2}, retries=2, sleep=waits.append)
        assert not refused.ok and refused.attempts == 1 and refused.status == 404
        assert refused.error == "HTTP 404 Not Found" and not refused.unreachable
        assert len(h.bodies) == 4
    finally:
        h.close()


def test_an_unreachable_url_is_reported_after_its_retries_not_raised():
    url = f"http://127.0.0.1:{closed_port()}/hook"
    alert = m.send_alert(url, verdicts(), run_id="r", retries=2, backoff_s=0.01)
    assert alert["sent"] and not alert["delivered"]
    assert alert["delivery"]["attempts"] == 3 and alert["delivery"]["unreachable"]
    assert "unreachable" in alert["reason"] and m.alert_line(alert).startswith("alert: FAILED")
    assert not post_json("ftp://example.invalid/x", {}).ok  # not http(s): no try at all
