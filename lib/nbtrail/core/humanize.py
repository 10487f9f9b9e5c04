"""Numbers as people read them, everywhere nbtrail prints or renders one."""

from __future__ import annotations

import math
from typing import Any


def human(value: Any, missing: str = "-") -> str:
    """``120000`` -> ``120,000``; ``0.91234`` -> ``0.9123``; ``8.4e-08`` stays exact enough;
    ``None`` -> ``missing``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return missing if value is None else str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"
