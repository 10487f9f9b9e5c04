"""Sticky assignment: ``sha256(salt + id)`` mapped to [0, 1) and compared with the configured
split, so one id always gets one arm, in any process."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nbtrail.core.errors import ParameterError

ARMS: tuple[str, str] = ("champion", "challenger")


def assign_arms(
    ids: Iterable[Any], *, salt: str, split: float = 0.5, arms: Sequence[str] = ARMS
) -> np.ndarray:
    """Sticky arm per id: ``sha256(salt + "\\x1f" + str(id))`` as a number in [0, 1); ids
    below ``1 - split`` get ``arms[0]`` (the champion), the rest ``arms[1]``. ``split`` is the
    share of traffic sent to the challenger."""
    if not 0 < split < 1:
        raise ParameterError(f"split must be in (0, 1), got {split!r}", parameter="split")
    if not salt:
        raise ParameterError("an experiment salt is required", parameter="salt")
    u = np.fromiter((_unit(salt, i) for i in ids), dtype=np.float64)
    return np.where(u < 1 - split, arms[0], arms[1])


def _unit(salt: str, entity: Any) -> float:
    digest = hashlib.sha256(f"{salt}\x1f{entity}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64
