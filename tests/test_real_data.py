"""The data and train stages on a real-looking file, through the runner as a user runs them:
a CSV with an unnamed index column, missing values, dates and a high-cardinality categorical,
written with semicolons in latin-1; and bad input, each refused in one line with its exit code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _project import by_stage, make_project, nbtrail

pytestmark = pytest.mark.slow


def messy_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice([f"Zürich {i:03d}" for i in range(150)], n)  # 150 levels, a non-ASCII name
    when = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.permutation(n) * 6, unit="h")
    logit = 1.5 * x + np.char.endswith(city.astype(str), "7")
    churn = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(
        {
            "x": x,
            "amount": rng.gamma(2.0, 10.0, n).round(2),
            "city": city,
            "signup": when.strftime("%d.%m.%Y %H:%M"),
            "churn": churn,
        }
    )
    frame.loc[rng.random(n) < 0.15, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.1, "city"] = np.nan
    return frame


def write_messy(path: Path, frame: pd.DataFrame) -> None:
    """As a spreadsheet in a European locale saves it, pandas' index included."""
    frame.to_csv(path, sep=";", decimal=",", encoding="latin-1")


def test_a_messy_csv_runs_data_and_train_and_the_record_says_what_was_dropped(tmp_path):
    root = make_project(tmp_path / "project")
    frame = messy_frame()
    write_messy(root / "customers.csv", frame)
    args = ["-p", "data.target=churn", "-p", "data.split=time", "-p", "data.time_column=signup"]
    out = nbtrail(root, "run", "--stage", "data", "-p", "data.source=customers.csv", *args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "dropped columns: Unnamed: 0 (unnamed, unique integers: a saved row index)" in out.stdout
    out = nbtrail(root, "run", "--stage", "train")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "left out: signup (the data stage's id or time column (a datetime))" in out.stdout

    (data,) = by_stage(root)["data"]
    assert data["status"] == "completed"
    extra = data["extra"]
    assert extra["dropped_columns"] == [
        {"column": "Unnamed: 0", "reason": "unnamed, unique integers: a saved row index"}
    ]
    assert extra["source"]["delimiter"] == ";" and extra["source"]["decimal"] == ","
    assert extra["source"]["encoding"] in ("cp1252", "latin-1")
    assert extra["missing_values"] == {
        "amount": int(frame["amount"].isna().sum()),
        "city": int(frame["city"].isna().sum()),
    }
    assert extra["datetime_columns"] == ["signup"]

    from nbtrail.core.workspace import Workspace
    from nbtrail.data.datasets import Datasets

    snapshot = Datasets(Workspace(root)).read_frame(data["outputs"]["snapshot"]["ref"])
    assert "Unnamed: 0" not in snapshot.columns and len(snapshot) == len(frame)
    assert set(snapshot["city"].dropna()) <= set(frame["city"].dropna())  # decoded right
    first, last = (
        snapshot.groupby("_split")["signup"].min(),
        snapshot.groupby("_split")["signup"].max(),
    )
    assert last["train"] < first["reference"] and last["reference"] < first["holdout"]

    (train,) = by_stage(root)["train"]
    features = train["extra"]["features"]
    assert features["columns"] == ["x", "amount", "city"]
    assert features["numeric"] == ["x", "amount"] and features["categorical"] == ["city"]
    assert train["metrics"]["cv_roc_auc"] > 0.7

    # the same file added to the store, then named as the source
    added = nbtrail(root, "data", "add", str(root / "customers.csv"), "--name", "customers")
    assert added.returncode == 0 and "400 rows x 6 columns" in added.stdout, added.stdout
    again = ["-p", "data.source=customers", "-p", "data.dataset_name=customers-snapshot"]
    out = nbtrail(root, "run", "--stage", "data", *again, *args)
    assert out.returncode == 0, out.stderr[-3000:]
    latest = max(by_stage(root)["data"], key=lambda r: r["started"])
    assert [i["ref"] for i in latest["inputs"]] == ["customers@1"]
    assert latest["outputs"]["snapshot"]["digest"] == data["outputs"]["snapshot"]["digest"]


def _bad_target(root: Path) -> list[str]:
    messy_frame().to_csv(root / "f.csv", index=False)
    return ["-p", "data.source=f.csv", "-p", "data.target=nope"]


def _constant_target(root: Path) -> list[str]:
    messy_frame().assign(churn="yes").to_csv(root / "f.csv", index=False)
    return ["-p", "data.source=f.csv", "-p", "data.target=churn"]


def _no_rows(root: Path) -> list[str]:
    (root / "f.csv").write_text("x,amount,city,churn\n")
    return ["-p", "data.source=f.csv", "-p", "data.target=churn"]


def _all_null_feature(root: Path) -> list[str]:
    messy_frame().assign(empty=np.nan).to_csv(root / "f.csv", index=False)
    return ["-p", "data.source=f.csv", "-p", "data.target=churn"]


def _text_column(root: Path) -> list[str]:
    frame = messy_frame()
    frame["comment"] = [f"the parcel number {i} arrived late again" for i in range(len(frame))]
    frame.to_csv(root / "f.csv", index=False)
    return ["-p", "data.source=f.csv", "-p", "data.target=churn"]


def _one_row_per_class(root: Path) -> list[str]:
    frame = messy_frame().assign(churn=[f"case {i}" for i in range(400)])
    frame.to_csv(root / "f.csv", index=False)
    return ["-p", "data.source=f.csv", "-p", "data.target=churn"]


@pytest.mark.parametrize(
    ("make", "code", "message"),
    [
        (_bad_target, 3, "ParameterError: target 'nope' is not a column of the source"),
        (_constant_target, 4, "target 'churn' is constant"),
        (_no_rows, 4, "DataError: source f.csv has no rows"),
        (_all_null_feature, 4, "DataError: all-null column(s) refused: 'empty'"),
        (_text_column, 4, "DataError: text columns are not supported: 'comment'"),
        (_one_row_per_class, 4, "400 of 400 classes of 'churn' have fewer than 10 rows"),
    ],
    ids=[
        "missing-target",
        "constant-target",
        "no-rows",
        "all-null-feature",
        "text-column",
        "one-row-per-class",
    ],
)
def test_bad_input_is_one_line_with_its_exit_code_and_no_completed_record(
    tmp_path, make, code, message
):
    root = make_project(tmp_path / "project")
    out = nbtrail(root, "run", "--stage", "data", *make(root))
    assert out.returncode == code, out.stderr[-2000:]
    errors = [line for line in out.stderr.splitlines() if line.startswith("nbtrail: error:")]
    assert len(errors) == 1 and errors[0] == out.stderr.strip().splitlines()[-1]
    assert message in errors[0]
    assert "Traceback" not in out.stderr
    assert [r["status"] for r in by_stage(root)["data"]] == ["failed"]
