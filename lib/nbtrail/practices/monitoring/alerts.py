"""Verdicts somebody hears: when a batch fails, a small JSON verdict POSTed to a webhook.

:func:`alert_payload` is what is sent: the failed batches (name, status, kind, failed checks,
summary), the run (id, stage, folder, record) and the paths of its reports. :func:`send_alert`
POSTs it with :func:`~nbtrail.core.webhook.post_json` (a timeout per try, bounded retries with
backoff) and returns what happened, delivered or not, for the run to record. It never raises
for a failed delivery: the run's exit code stays the verdict's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from nbtrail.core.webhook import post_json
from nbtrail.practices.monitoring.verdict import PASS, Verdict

ALERT_TIMEOUT_S = 5.0
ALERT_RETRIES = 2  # tries after the first (3 in all)
ALERT_BACKOFF_S = 0.5  # before the first retry; doubled before each next


def alert_payload(
    verdicts: Sequence[Verdict],
    *,
    run_id: str,
    stage: str = "monitor",
    links: Mapping[str, Any] | None = None,
    demo: bool = False,
) -> dict[str, Any]:
    """The JSON verdict of a run: ``status`` (``fail`` when a batch failed), the failed
    batches with their failed checks, the run id and ``links`` (paths of the run folder,
    record and reports)."""
    failed = [v for v in verdicts if not v.passed]
    return {
        "source": "nbtrail",
        "event": "monitor.verdict",
        "status": "fail" if failed else "pass",
        "demo": demo,
        "run_id": run_id,
        "stage": stage,
        "sent": datetime.now(UTC).isoformat(timespec="seconds"),
        "batches": [
            {
                "batch": v.batch,
                "status": v.status,
                "kind": v.kind,
                "rows": v.rows,
                "failed_checks": [c.label for c in v.checks if c.status != PASS],
                "drifted_columns": v.drifted_columns,
                "summary": v.summary,
            }
            for v in failed
        ],
        "batches_checked": len(verdicts),
        "links": dict(links or {}),
    }


def send_alert(
    url: str | None,
    verdicts: Sequence[Verdict],
    *,
    run_id: str,
    stage: str = "monitor",
    links: Mapping[str, Any] | None = None,
    demo: bool = False,
    timeout_s: float = ALERT_TIMEOUT_S,
    retries: int = ALERT_RETRIES,
    backoff_s: float = ALERT_BACKOFF_S,
) -> dict[str, Any]:
    """POST the verdict to ``url`` when a batch failed; returns the record of it:
    ``sent`` (whether a POST was tried), ``delivered``, ``reason`` (why not, in words), the
    delivery (attempts, HTTP status, error, seconds) and the payload."""
    failed = [v.batch for v in verdicts if not v.passed]
    base: dict[str, Any] = {"url": url or None, "failed_batches": failed}
    if not failed:
        return {**base, "sent": False, "delivered": False, "reason": "every batch passed"}
    if not url:
        return {**base, "sent": False, "delivered": False, "reason": "no alert_url set"}
    payload = alert_payload(verdicts, run_id=run_id, stage=stage, links=links, demo=demo)
    sent = post_json(url, payload, timeout_s=timeout_s, retries=retries, backoff_s=backoff_s)
    tries = f"{sent.attempts} {'try' if sent.attempts == 1 else 'tries'}"
    reason = (
        f"delivered (HTTP {sent.status}, {tries})"
        if sent.ok
        else f"not delivered after {tries}: {sent.error}"
    )
    return {
        **base,
        "sent": True,
        "delivered": sent.ok,
        "reason": reason,
        "delivery": sent.to_dict(),
        "payload": payload,
    }


def alert_line(alert: Mapping[str, Any]) -> str:
    """One line for the run's summary: where the alert went and whether it arrived."""
    if not alert.get("sent"):
        return f"alert: none sent ({alert.get('reason', '')})"
    where = alert.get("url")
    if alert.get("delivered"):
        return f"alert: sent to {where}, {alert['reason']}"
    return f"alert: FAILED to reach {where}, {alert['reason']}"
