"""Values as the bundle's JSON files hold them: numpy scalars as Python, non-finite as null."""

from __future__ import annotations

import json
import math
from typing import Any


def plain(v: Any) -> Any:
    """A numpy scalar as the Python value it holds (anything else unchanged)."""
    item = getattr(v, "item", None)
    return item() if callable(item) else v


def number(v: Any) -> float | None:
    """``v`` as a float, or None when it is missing, NaN or infinite."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def json_bytes(obj: Any) -> bytes:
    """``obj`` as indented, key-sorted JSON with a final newline (numpy scalars allowed)."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=plain) + "\n").encode()
