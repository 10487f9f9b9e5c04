"""Writes examples/incoming/batch_001.csv: a production batch for the default pipeline
(scikit-learn's breast cancer data), as it lands in a folder ``nbtrail monitor watch`` reads.

80 rows of the data set without their label (labels arrive late in production), their
``mean_radius``, ``mean_perimeter`` and ``mean_area`` 25% larger than measured: a drifted
batch, so ``nbtrail monitor watch examples/incoming --once`` exits 8. Run it with
``.venv/bin/python examples/make_incoming.py``; the file is committed, so nobody needs to.
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_breast_cancer


def make(rows: int = 80, seed: int = 11):
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.strip().lower().replace(" ", "_") for c in frame.columns]
    batch = frame.sample(rows, random_state=seed).drop(columns=["target"])
    for col in ("mean_radius", "mean_perimeter", "mean_area"):
        batch[col] = (batch[col] * 1.25).round(4)
    return batch.reset_index(drop=True)


if __name__ == "__main__":
    out = Path(__file__).resolve().parent / "incoming" / "batch_001.csv"
    make().to_csv(out, index=False)
    print(f"wrote {out}")
