"""Writes examples/churn.csv: a made-up customer table of the kind people bring to nbtrail.

It has what real exports have: a row-index column with no name, a customer id, a signup
date, missing values, a high-cardinality categorical (the city), and a yes/no target whose
odds depend on tenure, the monthly charge, the contract and support calls. Run it with
``.venv/bin/python examples/make_churn.py``; the file is committed, so nobody needs to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n)
    contract = rng.choice(["month-to-month", "one year", "two year"], n, p=[0.55, 0.25, 0.2])
    monthly = np.round(rng.normal(70, 25, n).clip(15, 150), 2)
    calls = rng.poisson(1.5, n)
    cities = [f"city_{i:03d}" for i in range(180)]
    logit = (
        -0.5
        - 0.04 * tenure
        + 0.015 * (monthly - 70)
        + 0.35 * calls
        + np.select([contract == "one year", contract == "two year"], [-0.9, -1.8], 0.0)
    )
    churned = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{100000 + i}" for i in rng.permutation(n)],
            "signup_date": pd.Timestamp("2021-01-01")
            + pd.to_timedelta(np.sort(rng.integers(0, 1000, n)), unit="D"),
            "tenure_months": tenure,
            "contract": contract,
            "monthly_charge": monthly,
            "support_calls": calls,
            "city": rng.choice(cities, n),
            "paperless_billing": rng.choice([True, False], n),
            "churned": churned,
        }
    )
    for col, share in (("monthly_charge", 0.04), ("contract", 0.02), ("support_calls", 0.03)):
        frame.loc[rng.random(n) < share, col] = None
    return frame


if __name__ == "__main__":
    out = Path(__file__).with_name("churn.csv")
    make().to_csv(out)  # with pandas' unnamed row-index column, as many exports have
    print(f"wrote {out}")
