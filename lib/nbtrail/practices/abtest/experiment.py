"""The online experiment, simulated: its plan (fixed-sample sizes inflated for the
sequential design), many experiments at once for A/A and power checks, and one live
experiment on sticky-assigned ids that stops at the first boundary crossing and reports
repeated confidence intervals (valid at whichever look it stopped)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

import numpy as np
import pandas as pd

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.practices.abtest.assignment import ARMS, assign_arms
from nbtrail.practices.abtest.power import ErrorRates, sample_size_two_proportions
from nbtrail.practices.abtest.sequential import fractions_of, group_sequential_design
from nbtrail.practices.evaluation import plain


def plan_experiment(
    p_control: float,
    mde: float,
    *,
    split: float = 0.5,
    looks: int | Sequence[float] = 5,
    spending_function: str = "obrien_fleming",
    **rates: Unpack[ErrorRates],
) -> dict[str, Any]:
    """The plan before the experiment: fixed-sample sizes per arm for detecting an absolute
    change ``mde`` from ``p_control``, the sequential design, and its maximum sizes.
    ``rates``: ``alpha`` (0.05) and ``power`` (0.8), of both the sizes and the design."""
    if not 0 < split < 1:
        raise ParameterError(f"split must be in (0, 1), got {split!r}", parameter="split")
    p_treatment = p_control + mde
    ratio = split / (1 - split)
    fixed = sample_size_two_proportions(p_control, p_treatment, ratio=ratio, **rates)
    design = group_sequential_design(looks, spending_function=spending_function, **rates)
    n_c = math.ceil(fixed["control"] * design["inflation"])
    n_t = math.ceil(n_c * ratio - 1e-9)
    return plain(
        {
            "p_control": p_control,
            "p_treatment": p_treatment,
            "mde": mde,
            "alpha": design["alpha"],
            "power": design["power"],
            "split": split,
            "fixed_n": fixed,
            "max_n": {"control": n_c, "treatment": n_t},
            "total_max_n": n_c + n_t,
            "design": design,
        }
    )


def _z_pooled(x_a: np.ndarray, n_a: np.ndarray, x_b: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        pa, pb = x_a / n_a, x_b / n_b
        pool = (x_a + x_b) / (n_a + n_b)
        se = np.sqrt(pool * (1 - pool) * (1 / n_a + 1 / n_b))
        z = (pb - pa) / se
    return np.where(se > 0, z, 0.0)


def simulate_sequential(
    p_control: float,
    p_treatment: float,
    n_control: int,
    n_treatment: int,
    design: Mapping[str, Any] | Sequence[float],
    *,
    n_sims: int = 2000,
    seed: int = 0,
    fractions: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Simulate ``n_sims`` experiments (vectorised) with looks at the design's fractions of
    the maximum sizes; reject at the first look where ``|z| >= bound``.

    ``design`` is a :func:`group_sequential_design` result or just the z bounds (with
    ``fractions``, default equally spaced)."""
    if isinstance(design, Mapping):
        bounds = np.asarray(design["z_bounds"], dtype=np.float64)
        fr = np.asarray(design["fractions"], dtype=np.float64)
    else:
        bounds = np.asarray(design, dtype=np.float64)
        fr = fractions_of(list(fractions) if fractions is not None else len(bounds))
    rng = np.random.default_rng(seed)
    na = np.round(fr * n_control).astype(np.int64)
    nb = np.round(fr * n_treatment).astype(np.int64)
    xa = rng.binomial(np.diff(np.concatenate([[0], na])), p_control, size=(n_sims, len(fr)))
    xb = rng.binomial(np.diff(np.concatenate([[0], nb])), p_treatment, size=(n_sims, len(fr)))
    z = _z_pooled(xa.cumsum(1), na[None, :], xb.cumsum(1), nb[None, :])
    crossed = np.abs(z) >= bounds[None, :]
    rejected = crossed.any(axis=1)
    first = np.where(rejected, crossed.argmax(axis=1), len(fr) - 1)
    z_at_stop = z[np.arange(n_sims), first]
    return plain(
        {
            "n_sims": n_sims,
            "rejection_rate": float(rejected.mean()),
            "rejection_rate_treatment_better": float((rejected & (z_at_stop > 0)).mean()),
            "mean_stop_look": float(first.mean() + 1),
            "expected_n": float((na[first] + nb[first]).mean()),
            "rejection_by_look": np.bincount(first[rejected], minlength=len(fr)) / n_sims,
        }
    )


def run_online_experiment(
    ids: Sequence[Any],
    *,
    salt: str,
    split: float,
    p_control: float,
    p_treatment: float,
    design: Mapping[str, Any],
    seed: int = 0,
    row_outcomes: tuple[Any, Any] | None = None,
) -> dict[str, Any]:
    """A simulated live experiment: ``ids`` arrive in order, each sticky-assigned to an arm
    (champion = control, challenger = treatment) and given an outcome drawn with its arm's
    true rate. Looks happen when the design's fractions of ``ids`` have arrived; the
    experiment stops at the first crossing. Repeated confidence intervals (difference
    ± bound × SE, valid under the repeated looks) are reported per look.

    With ``row_outcomes = (champion_ok, challenger_ok)`` (per-row 0/1 outcomes of both
    models on the same rows, e.g. correctness on the holdout), each entity instead draws
    one row and gets its arm's outcome on that row; the true rates are then the means."""
    ids = list(ids)
    if len(set(map(str, ids))) != len(ids):
        raise DataError("experiment ids must be unique entities")
    arms = assign_arms(ids, salt=salt, split=split)
    rng = np.random.default_rng(seed)
    treated = arms == ARMS[1]
    if row_outcomes is None:
        outcome = rng.random(len(ids)) < np.where(treated, p_treatment, p_control)
    else:
        ok_a = np.asarray(row_outcomes[0], dtype=bool)
        ok_b = np.asarray(row_outcomes[1], dtype=bool)
        if ok_a.shape != ok_b.shape or ok_a.size == 0:
            raise DataError("row_outcomes must be two equally long, non-empty arrays")
        rows = rng.integers(0, len(ok_a), len(ids))
        outcome = np.where(treated, ok_b[rows], ok_a[rows])
        p_control, p_treatment = float(ok_a.mean()), float(ok_b.mean())
    fractions = np.asarray(design["fractions"], dtype=np.float64)
    bounds = np.asarray(design["z_bounds"], dtype=np.float64)
    looks: list[dict[str, Any]] = []
    decision, stopped = "inconclusive", None
    for k, (f, c) in enumerate(zip(fractions, bounds, strict=True)):
        n = int(round(f * len(ids)))
        t, o = treated[:n], outcome[:n]
        n_b, n_a = int(t.sum()), int((~t).sum())
        x_b, x_a = int(o[t].sum()), int(o[~t].sum())
        if min(n_a, n_b) == 0:
            raise DataError(f"look {k + 1}: an arm has no entities yet ({n} ids so far)")
        z = float(_z_pooled(np.array(x_a), np.array(n_a), np.array(x_b), np.array(n_b)))
        pa, pb = x_a / n_a, x_b / n_b
        se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
        looks.append(
            {
                "look": k + 1,
                "fraction": float(f),
                "n_champion": n_a,
                "n_challenger": n_b,
                "rate_champion": pa,
                "rate_challenger": pb,
                "difference": pb - pa,
                "z": z,
                "bound": float(c),
                "rci": [pb - pa - c * se, pb - pa + c * se],
                "crossed": bool(abs(z) >= c),
            }
        )
        if abs(z) >= c:
            stopped = k + 1
            decision = "promote" if z > 0 else "keep_champion"
            break
    last = looks[-1]
    pa, pb = last["rate_champion"], last["rate_challenger"]
    reason = (
        f"stopped at look {stopped}: |z| = {abs(last['z']):.3f} >= {last['bound']:.3f}; the "
        f"challenger's rate is {'higher' if last['z'] > 0 else 'lower'}"
        if stopped
        else f"no boundary crossed in {len(looks)} looks (final |z| = {abs(last['z']):.3f} < "
        f"{last['bound']:.3f}); no significant difference"
    )
    return plain(
        {
            "method": design.get("method"),
            "salt": salt,
            "split": split,
            "n_ids": len(ids),
            "observed_split": float(treated.mean()),
            "true_rates": {"champion": p_control, "challenger": p_treatment},
            "looks": looks,
            "stopped_at_look": stopped,
            "decision": decision,
            "reason": reason,
            "effect": {
                "difference": pb - pa,
                "relative_lift": (pb - pa) / pa if pa > 0 else None,
                "cohens_h": 2 * math.asin(math.sqrt(pb)) - 2 * math.asin(math.sqrt(pa)),
                "rci": last["rci"],
            },
        }
    )


def looks_table(result: Mapping[str, Any]) -> pd.DataFrame:
    """A display table: one row per look of an online experiment, its interval in two
    columns."""
    rows = [
        {
            **{k: v for k, v in look.items() if k != "rci"},
            "rci_low": look["rci"][0],
            "rci_high": look["rci"][1],
        }
        for look in result["looks"]
    ]
    return pd.DataFrame(rows).set_index("look")
