"""How a CSV file is written: its encoding, delimiter and decimal mark, sniffed from the file.

Every reader of a CSV — ``nbtrail data add`` describing it, a dataset version read back, the
data stage's source — asks :func:`sniff`, so they all see the same columns.

Encoding: a UTF-8 byte-order mark means ``utf-8-sig``; otherwise the file is decoded
incrementally as ``utf-8``, then ``cp1252``, and ``latin-1`` (which decodes any bytes) last.
Delimiter: :class:`csv.Sniffer` on the first lines, among ``, ; TAB |``, kept only when it
splits every sampled line into the same number (> 1) of fields. A file not delimited by commas
whose numbers are written ``1,5`` and never ``1.5`` has the decimal comma.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core.errors import DataError, ParameterError

if TYPE_CHECKING:
    import pandas as pd

DELIMITERS = ",;\t|"
ENCODINGS = ("utf-8", "cp1252", "latin-1")  # tried in this order; latin-1 always decodes
SAMPLE_BYTES = 64 * 1024
_CHUNK = 1024 * 1024
_DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")
_DECIMAL_POINT = re.compile(r"^-?\d+\.\d+$")


@dataclass(frozen=True)
class CsvFormat:
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal: str = "."


def sniff(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    limit: int | None = None,
) -> CsvFormat:
    """The format of the CSV at ``path``; ``delimiter`` and ``encoding`` given win. ``limit``
    bounds the bytes decoded to choose the encoding (None: the whole file)."""
    enc = encoding or sniff_encoding(path, limit=limit)
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise ParameterError(f"unknown encoding {enc!r}", parameter="encoding") from exc
    sample = sample_text(path, enc)
    sep = delimiter or sniff_delimiter(sample)
    return CsvFormat(enc, sep, sniff_decimal(sample, sep))


def sniff_encoding(path: Path, *, limit: int | None = None) -> str:
    """``utf-8-sig`` for a byte-order mark, else the first of :data:`ENCODINGS` that decodes
    the file (read in chunks, so a late non-UTF-8 byte is found too)."""
    with open(path, "rb") as fh:
        if fh.read(3) == codecs.BOM_UTF8:
            return "utf-8-sig"
    for enc in ENCODINGS[:-1]:
        decoder = codecs.getincrementaldecoder(enc)()
        seen = 0
        try:
            with open(path, "rb") as fh:
                while (limit is None or seen < limit) and (chunk := fh.read(_CHUNK)):
                    seen += len(chunk)
                    decoder.decode(chunk)
                if limit is None or seen < limit:
                    decoder.decode(b"", final=True)
            return enc
        except UnicodeDecodeError:
            continue
    return ENCODINGS[-1]


def sample_text(path: Path, encoding: str) -> str:
    """The first lines of the file (whole lines, up to :data:`SAMPLE_BYTES`), decoded."""
    with open(path, "rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
        more = bool(fh.read(1))
    text = raw.decode(encoding, errors="replace")
    if more and "\n" in text:
        text = text[: text.rindex("\n")]
    return text.lstrip("\ufeff")


def _field_counts(sample: str, sep: str) -> list[int]:
    rows = csv.reader(io.StringIO(sample), delimiter=sep)
    return [len(r) for r in rows if r]


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: the sniffed one when it splits every sampled line into
    the same number (> 1) of fields, else the first of :data:`DELIMITERS` that does, else ``,``."""
    candidates = []
    try:
        candidates.append(csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter)
    except csv.Error:
        pass
    candidates += [d for d in DELIMITERS if d not in candidates]
    for sep in candidates:
        counts = _field_counts(sample, sep)
        if counts and counts[0] > 1 and all(c == counts[0] for c in counts):
            return sep
    return ","


def sniff_decimal(sample: str, sep: str) -> str:
    """``,`` when a sample not delimited by commas writes numbers ``1,5`` and never ``1.5``."""
    if sep == ",":
        return "."
    fields = [f.strip() for row in csv.reader(io.StringIO(sample), delimiter=sep) for f in row]
    comma = any(_DECIMAL_COMMA.match(f) for f in fields)
    point = any(_DECIMAL_POINT.match(f) for f in fields)
    return "," if comma and not point else "."


def read_csv_frame(path: Path, fmt: CsvFormat, *, shown: str | None = None) -> pd.DataFrame:
    """The CSV at ``path`` read with pandas in format ``fmt``; unreadable -> DataError."""
    import pandas as pd

    shown = shown or str(path)
    try:
        return pd.read_csv(path, sep=fmt.delimiter, encoding=fmt.encoding, decimal=fmt.decimal)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"cannot read {shown} as {fmt.encoding}: {first_line(exc)}",
            hint="set the data stage's `encoding`",
        ) from exc
    except Exception as exc:  # pandas raises many parser errors
        raise DataError(f"cannot read {shown}: {first_line(exc)}") from exc


def arrow_options(fmt: CsvFormat, **read: Any) -> dict[str, Any]:
    """``read_options``, ``parse_options`` and ``convert_options`` for ``pyarrow.csv``."""
    import pyarrow.csv as pacsv

    # pyarrow decodes "utf8" natively and transcodes any other name through Python's codecs
    encoding = "utf8" if codecs.lookup(fmt.encoding).name == "utf-8" else fmt.encoding
    return {
        "read_options": pacsv.ReadOptions(encoding=encoding, **read),
        "parse_options": pacsv.ParseOptions(delimiter=fmt.delimiter),
        "convert_options": pacsv.ConvertOptions(decimal_point=fmt.decimal),
    }


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when it has none)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
