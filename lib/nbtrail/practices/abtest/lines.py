"""One-line reports of the A/B results, for the notebook and the run summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def mcnemar_line(m: Mapping[str, Any]) -> str:
    """McNemar's result in one line: the discordant counts and the p-value."""
    return (
        f"McNemar ({m['method']}): champion-only correct {m['champion_only_correct']}, "
        f"challenger-only correct {m['challenger_only_correct']}, p = {m['p_value']:.4g}"
    )


def plan_line(plan: Mapping[str, Any]) -> str:
    """An online experiment's plan in one line: sizes, inflation and boundaries."""
    design = plan["design"]
    return (
        f"plan: fixed-sample n per arm {plan['fixed_n']}, sequential max n {plan['max_n']} "
        f"(inflation {design['inflation']:.3f}); boundaries "
        f"{[round(b, 3) for b in design['z_bounds']]}"
    )
