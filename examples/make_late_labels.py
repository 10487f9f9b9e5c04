"""Writes examples/bc_batch.csv and examples/bc_batch_labels.csv: a production batch for the
default breast-cancer model that arrives without labels, and its labels, arriving later.

The batch is 150 rows of scikit-learn's breast-cancer table (columns in snake case, as the data
stage reads them) with a ``request_id`` and no ``target``; the labels file holds
``request_id, target`` in another order, as a labelling queue would return them. Run it with
``.venv/bin/python examples/make_late_labels.py``; the files are committed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np


def snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")


def main() -> None:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [snake(c) for c in frame.columns]
    rng = np.random.default_rng(15)
    rows = frame.iloc[np.sort(rng.choice(len(frame), 150, replace=False))].reset_index(drop=True)
    rows.insert(0, "request_id", [f"R{10000 + i}" for i in range(len(rows))])
    here = Path(__file__).parent
    rows.drop(columns=["target"]).to_csv(here / "bc_batch.csv", index=False)
    labels = rows[["request_id", "target"]].sample(frac=1.0, random_state=3)
    labels.to_csv(here / "bc_batch_labels.csv", index=False)


if __name__ == "__main__":
    main()
