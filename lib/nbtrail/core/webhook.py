"""JSON POSTed to a URL with the standard library: a timeout per try, bounded retries with
exponential backoff, and what happened returned as a :class:`Delivery` (never raised).

Retried: connection failures, timeouts and 5xx / 429 answers. Not retried: other 4xx answers
(the request itself is wrong; trying again changes nothing) and URLs that are not http(s).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Delivery:
    """The outcome of one :func:`post_json`: delivered or not, and why."""

    url: str
    ok: bool
    attempts: int
    status: int | None = None  # the last HTTP status answered (None: no answer)
    error: str | None = None  # why the last try failed ("unreachable: ...", "HTTP 500 ...")
    unreachable: bool = False  # the last try got no HTTP answer
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _retryable(status: int | None) -> bool:
    return status is None or status >= 500 or status == 429


def post_json(
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
    retries: int = 2,
    backoff_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """POST ``payload`` as JSON to ``url``: up to ``1 + retries`` tries, each with
    ``timeout_s``, waiting ``backoff_s``, then twice as long, ... between them."""
    if not url.lower().startswith(("http://", "https://")):
        return Delivery(url, False, 0, error=f"not an http(s) URL: {url!r}", unreachable=True)
    body = json.dumps(payload, default=str).encode()
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    t0 = time.perf_counter()
    attempts, status, error, unreachable = 0, None, None, False
    for attempt in range(1 + max(0, retries)):
        if attempt:
            sleep(backoff_s * 2 ** (attempt - 1))
        attempts += 1
        req = urllib.request.Request(url, data=body, headers=all_headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:
                resp.read()
                status = int(resp.status)
            return Delivery(url, True, attempts, status, seconds=time.perf_counter() - t0)
        except urllib.error.HTTPError as exc:
            status, error, unreachable = exc.code, f"HTTP {exc.code} {exc.reason}", False
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            status, error, unreachable = None, f"unreachable: {reason}", True
        if not _retryable(status):
            break
    seconds = time.perf_counter() - t0
    return Delivery(url, False, attempts, status, error, unreachable, seconds)
