"""The data stage's practices on real files: reading (sniffing, Parquet, dataset versions),
preparing columns (ids dropped, text refused, dates parsed), expectations and the split."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbtrail.core.errors import DataError, ParameterError
from nbtrail.data.csvformat import sniff_delimiter
from nbtrail.data.datasets import Datasets
from nbtrail.practices import sources as src


def _frame(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n),
            "y": rng.choice(["yes", "no"], n),
        }
    )


# Reading --------------------------------------------------------------------------------------


def test_a_semicolon_csv_in_latin1_with_decimal_commas_is_sniffed(tmp_path):
    text = "ville;température;y\nZürich;1,5;oui\nSão Paulo;-2,25;non\nCórdoba;3,0;oui\n"
    (tmp_path / "fr.csv").write_bytes(text.encode("latin-1"))
    loaded = src.read_source("fr.csv", tmp_path)
    assert loaded.delimiter == ";" and loaded.decimal == ","
    assert loaded.encoding in ("cp1252", "latin-1")
    assert list(loaded.frame.columns) == ["ville", "température", "y"]
    assert loaded.frame["ville"].tolist() == ["Zürich", "São Paulo", "Córdoba"]
    assert loaded.frame["température"].tolist() == [1.5, -2.25, 3.0]
    facts = loaded.describe()
    assert facts["delimiter"] == ";" and facts["rows"] == 3 and facts["format"] == "csv"


def test_bytes_cp1252_cannot_decode_fall_back_to_latin1(tmp_path):
    (tmp_path / "odd.csv").write_bytes(b"a,b\n1,caf\xe9\n2,x\x81y\n")
    loaded = src.read_source("odd.csv", tmp_path)
    assert loaded.encoding == "latin-1"
    assert loaded.frame["b"].tolist() == ["café", "x\x81y"]


def test_a_utf8_bom_is_not_part_of_the_first_column_name(tmp_path):
    (tmp_path / "bom.csv").write_bytes("\ufeffname\tvalue\nä\t1\nö\t2\n".encode())
    loaded = src.read_source("bom.csv", tmp_path)
    assert loaded.encoding == "utf-8-sig" and loaded.delimiter == "\t"
    assert list(loaded.frame.columns) == ["name", "value"]


def test_delimiter_and_encoding_given_as_parameters_win(tmp_path):
    (tmp_path / "p.csv").write_bytes("a|b\n1|é\n".encode("cp1252"))
    loaded = src.read_source("p.csv", tmp_path, delimiter="|", encoding="cp1252")
    assert (loaded.delimiter, loaded.encoding) == ("|", "cp1252")
    assert loaded.frame.to_dict("list") == {"a": [1], "b": ["é"]}
    with pytest.raises(ParameterError, match="unknown encoding"):
        src.read_source("p.csv", tmp_path, encoding="no-such-codec")


def test_a_comma_file_with_semicolons_inside_quotes_stays_comma():
    sample = 'id,note\n1,"a; b; c"\n2,"d; e"\n3,"f; g; h"\n'
    assert sniff_delimiter(sample) == ","
    assert sniff_delimiter("just_one_column\n1\n2\n") == ","


def test_parquet_is_read_with_pyarrow(tmp_path):
    frame = _frame()
    frame["when"] = pd.date_range("2024-01-01", periods=len(frame), freq="D")
    frame.to_parquet(tmp_path / "t.parquet")
    loaded = src.read_source("t.parquet", tmp_path)
    assert loaded.format == "parquet" and loaded.kind == "file"
    pd.testing.assert_frame_equal(loaded.frame, frame)


def test_a_registered_dataset_version_is_a_source_by_name_and_version(ws):
    csv = ws.root / "shop.csv"
    csv.write_text("price;kind\n1,5;a\n2,5;b\n")
    Datasets(ws).add_file(csv, "shop")
    csv.write_text("price;kind\n1,5;a\n2,5;b\n3,5;c\n")
    Datasets(ws).add_file(csv, "shop")
    dv = Datasets(ws).get("shop")
    assert dv.columns == ["price", "kind"] and dv.dtypes["price"] == "double"  # data add sniffs
    assert Datasets(ws).read_frame(dv)["price"].tolist() == [1.5, 2.5, 3.5]
    latest = src.read_source("shop", ws.root)
    assert latest.kind == "dataset" and latest.dataset is not None
    assert latest.dataset.ref == "shop@2" and len(latest.frame) == 3
    first = src.read_source("shop@1", ws.root)
    assert first.frame["price"].tolist() == [1.5, 2.5] and first.delimiter == ";"
    assert src.read_source("dataset:shop@1", ws.root).frame.equals(first.frame)
    with pytest.raises(DataError, match="neither a file nor a dataset") as exc:
        src.read_source("nosuch", ws.root)
    assert exc.value.exit_code == 4


def test_a_file_with_no_rows_is_refused(tmp_path):
    (tmp_path / "header.csv").write_text("a,b,y\n")
    with pytest.raises(DataError, match="has no rows"):
        src.read_source("header.csv", tmp_path)
    _frame().head(0).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(DataError, match="has no rows"):
        src.read_source("empty.parquet", tmp_path)
    (tmp_path / "zero.csv").write_text("")
    with pytest.raises(DataError, match="source file is empty"):
        src.read_source("zero.csv", tmp_path)
    with pytest.raises(DataError, match="source file not found: no/such.csv"):
        src.read_source("no/such.csv", tmp_path)


# Columns --------------------------------------------------------------------------------------


def test_row_index_and_id_like_columns_are_dropped_with_their_reasons():
    rng = np.random.default_rng(1)
    n = 80
    frame = _frame(n)
    frame.insert(0, "Unnamed: 0", rng.permutation(n))  # a saved, shuffled index
    frame["row"] = np.arange(100, 100 + n)  # a contiguous range
    frame["customer_id"] = rng.choice(10**6, n, replace=False)  # unique, named like an id
    frame["ticket"] = [f"T-{i:05d}" for i in rng.choice(10**5, n, replace=False)]
    frame["Unnamed: 9"] = np.nan  # a trailing delimiter
    frame["income"] = rng.choice(10**6, n, replace=False)  # unique ints, but a real feature
    frame["score"] = rng.normal(size=n)  # unique floats: a feature
    frame["age"] = rng.integers(18, 90, n)  # repeated ints: a feature
    prepared = src.prepare_columns(frame, target="y")
    reasons = {d["column"]: d["reason"] for d in prepared.dropped}
    assert set(reasons) == {"Unnamed: 0", "row", "customer_id", "ticket", "Unnamed: 9"}
    assert "saved row index" in reasons["Unnamed: 0"]
    assert "contiguous range" in reasons["row"]
    assert "named like an id" in reasons["customer_id"]
    assert "unique string" in reasons["ticket"]
    assert "trailing delimiter" in reasons["Unnamed: 9"]
    assert list(prepared.frame.columns) == ["x", "colour", "y", "income", "score", "age"]
    assert any("Unnamed: 0" in line for line in prepared.lines())


def test_the_target_and_the_named_id_and_time_columns_are_never_dropped():
    n = 50
    frame = pd.DataFrame(
        {"key": np.arange(n), "t": np.arange(n) * 10, "x": np.random.default_rng(2).normal(size=n)}
    )
    frame["y"] = np.arange(n)  # a regression target that looks like a range
    prepared = src.prepare_columns(frame, target="y", id_column="key", time_column="t")
    assert prepared.dropped == [] and list(prepared.frame.columns) == ["key", "t", "x", "y"]


@pytest.mark.parametrize("name", src.SKLEARN_SOURCES)
def test_the_bundled_datasets_keep_every_column(name):
    raw = src.load_source(f"sklearn:{name}", Path("."))
    prepared = src.prepare_columns(raw, target="target")
    assert prepared.dropped == [] and prepared.datetimes == [] and prepared.missing == {}
    assert prepared.frame.equals(raw)


def test_free_text_columns_are_refused_naming_them_and_can_be_dropped():
    rng = np.random.default_rng(3)
    words = ["good", "bad", "late", "parcel", "arrived", "broken", "great", "service", "again"]
    frame = _frame(60)
    frame["review"] = [" ".join(rng.choice(words, 6)) + f" {i}" for i in range(60)]
    frame["name"] = [f"Ann Smith{i}" for i in range(60)]  # two words: an identifier, not text
    with pytest.raises(DataError, match=r"text columns are not supported: 'review'") as exc:
        src.prepare_columns(frame, target="y")
    assert "drop_columns=[review]" in str(exc.value) and "'name'" not in str(exc.value)
    assert exc.value.exit_code == 4 and len(str(exc.value).splitlines()) == 1
    prepared = src.prepare_columns(frame, target="y", drop_columns=["review"])
    reasons = {d["column"]: d["reason"] for d in prepared.dropped}
    assert reasons == {"review": "listed in drop_columns", "name": reasons["name"]}
    assert "unique string" in reasons["name"]


def test_an_all_null_feature_is_refused_naming_it():
    frame = _frame()
    frame["empty"] = np.nan
    with pytest.raises(DataError, match=r"all-null column\(s\) refused: 'empty'") as exc:
        src.prepare_columns(frame, target="y")
    assert exc.value.exit_code == 4 and "drop_columns=[empty]" in str(exc.value)


def test_missing_values_are_counted_per_column():
    frame = _frame()
    frame.loc[:4, "x"] = np.nan
    frame.loc[:1, "colour"] = None
    prepared = src.prepare_columns(frame, target="y")
    assert prepared.missing == {"x": 5, "colour": 2}
    table = prepared.table().set_index("column")
    assert table.loc["x", "missing"] == 5 and table.loc["y", "missing"] == 0


def test_columns_the_parameters_name_must_exist():
    with pytest.raises(ParameterError, match="target 'label' is not a column") as exc:
        src.prepare_columns(_frame(), target="label")
    assert exc.value.exit_code == 3 and "columns: x, colour, y" in str(exc.value)
    with pytest.raises(ParameterError, match="drop_columns 'z'"):
        src.prepare_columns(_frame(), target="y", drop_columns=["z"])
    with pytest.raises(ParameterError, match="names the target"):
        src.prepare_columns(_frame(), target="y", drop_columns=["y"])


def test_text_dates_become_datetimes_and_numbers_do_not():
    frame = _frame(30)
    frame["signup"] = pd.date_range("2023-03-01", periods=30, freq="12h").strftime("%Y-%m-%d %H:%M")
    frame["year"] = [str(2000 + i % 5) for i in range(30)]
    prepared = src.prepare_columns(frame, target="y")
    assert prepared.parsed == ["signup"] and prepared.datetimes == ["signup"]
    assert pd.api.types.is_datetime64_any_dtype(prepared.frame["signup"])
    assert not pd.api.types.is_datetime64_any_dtype(prepared.frame["year"])
    assert frame["signup"].dtype != prepared.frame["signup"].dtype  # the input is untouched
    with pytest.raises(DataError, match="time_column 'colour' does not hold dates"):
        src.prepare_columns(frame, target="y", time_column="colour")


# Expectations ---------------------------------------------------------------------------------


def test_a_constant_target_fails_its_expectation_in_one_line():
    frame = _frame()
    frame["y"] = "yes"
    with pytest.raises(DataError) as exc:
        src.Expectations(target="y").check(frame)
    text = str(exc.value)
    assert "target_has_two_values" in text and "target 'y' is constant" in text
    assert exc.value.exit_code == 4 and len(text.splitlines()) == 1


def test_missing_values_pass_unless_a_share_is_set():
    frame = _frame()
    frame.loc[:29, "x"] = np.nan  # half of the rows
    results = {r["name"]: r for r in src.Expectations(target="y").check(frame)}
    assert results["missing_share"]["passed"] and "no limit" in results["missing_share"]["detail"]
    with pytest.raises(DataError, match="missing_share"):
        src.Expectations(target="y", max_missing_share=0.2).check(frame)


# Split ----------------------------------------------------------------------------------------


def test_the_default_random_split_is_unchanged():
    raw = src.load_source("sklearn:breast_cancer", Path("."))
    snap = src.split(raw, target="target", holdout_fraction=0.2, reference_fraction=0.2, seed=42)
    labels = "".join(snap["_split"].str[0])
    # the labels the split gave before the data stage learned to read real files
    assert hashlib.sha256(labels.encode()).hexdigest()[:16] == "ca8da83e7d0c63ed"
    assert snap.drop(columns="_split").equals(raw)


def test_a_time_split_follows_the_calendar():
    rng = np.random.default_rng(4)
    n = 200
    frame = _frame(n)
    days = pd.to_datetime("2022-01-01") + pd.to_timedelta(rng.integers(0, 90, n), unit="D")
    frame["day"] = days  # many rows share a day
    snap = src.split(
        frame,
        target="y",
        holdout_fraction=0.2,
        reference_fraction=0.2,
        seed=0,
        method="time",
        time_column="day",
    )
    by = snap.groupby("_split")["day"]
    lo, hi = by.min(), by.max()
    assert hi["train"] < lo["reference"] and hi["reference"] < lo["holdout"]
    sizes = snap["_split"].value_counts()
    assert abs(sizes["holdout"] - 40) <= 10 and abs(sizes["reference"] - 40) <= 10
    assert sizes.sum() == n


def test_a_time_split_refuses_missing_times_and_a_random_split_refuses_a_time_column():
    frame = _frame()
    frame["day"] = pd.date_range("2022-01-01", periods=len(frame))
    frame.loc[3, "day"] = pd.NaT
    kw = {"target": "y", "holdout_fraction": 0.2, "reference_fraction": 0.2, "seed": 0}
    with pytest.raises(DataError, match="1 missing values"):
        src.split(frame, method="time", time_column="day", **kw)
    with pytest.raises(ParameterError, match="needs a time_column"):
        src.split(frame, method="time", **kw)
    with pytest.raises(ParameterError, match="split is 'random'"):
        src.split(frame, time_column="day", **kw)
    with pytest.raises(ParameterError, match="split must be one of"):
        src.split(frame, method="stratified", **kw)
    frame["day"] = pd.Timestamp("2022-01-01")  # one time for every row: no split by time
    with pytest.raises(DataError, match="too many rows share a time"):
        src.split(frame, method="time", time_column="day", **kw)


@pytest.mark.parametrize(
    ("source", "dataset", "snapshot"),
    [
        ("sklearn:breast_cancer", "breast_cancer", "breast_cancer_snapshot"),
        ("data/My Churn.csv", "my_churn", "my_churn_snapshot"),
        ("/abs/path/sales-2024.parquet", "sales_2024", "sales_2024_snapshot"),
        ("sales@3", "sales", "sales_snapshot"),
        ("dataset:sales", "sales", "sales_snapshot"),
    ],
)
def test_each_source_gets_its_own_dataset_and_snapshot_name(source, dataset, snapshot):
    assert src.dataset_name_for(source) == dataset
    assert src.snapshot_name_for(source) == snapshot
