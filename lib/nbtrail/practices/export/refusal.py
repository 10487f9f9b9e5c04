"""The refusal rule: no bundle for a model without a completed evaluation whose verdicts passed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbtrail.core.errors import GateFailed


def check_evaluation(
    evaluation: Mapping[str, Any] | None, *, model: str = "model", required: str = ""
) -> dict:
    """Refuse to export without a completed evaluation whose verdicts passed.

    ``evaluation`` is the evaluate stage's run record (or any mapping with ``status``,
    ``verdicts`` ``{name: {"passed": bool, ...}}`` and optionally ``run_id``). ``required``
    is the name prefix of the verdicts that must pass (``""``: all of them; ``"gate_"``: the
    gates only). Returns the verdicts; raises :class:`GateFailed` when the evaluation is
    missing, not completed, has no verdicts, or a required verdict failed.
    """
    if not evaluation:
        raise GateFailed(
            f"refusing to export {model}: no evaluation found",
            hint="run the evaluate stage first; a model ships only after its gates pass",
            model=model,
        )
    run = evaluation.get("run_id", "?")
    status = evaluation.get("status", "completed")
    if status not in ("completed", "cached"):
        raise GateFailed(
            f"refusing to export {model}: its evaluation run {run} is {status}",
            model=model,
            run_id=run,
        )
    verdicts = evaluation.get("verdicts") or {}
    if not verdicts:
        raise GateFailed(
            f"refusing to export {model}: evaluation run {run} recorded no verdicts",
            hint="the evaluate stage must record its gates with run.verdict(...)",
            model=model,
            run_id=run,
        )
    failed = sorted(
        k for k, v in verdicts.items() if k.startswith(required) and not (v or {}).get("passed")
    )
    if failed:
        raise GateFailed(
            f"refusing to export {model}: evaluation run {run} failed {', '.join(failed)}",
            model=model,
            run_id=run,
            failed=failed,
        )
    return dict(verdicts)
