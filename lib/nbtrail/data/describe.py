"""Describing a data file from the store's private copy: rows, columns and dtypes.

A CSV's encoding, delimiter and decimal mark are sniffed (:mod:`nbtrail.data.csvformat`).

CSV files up to :data:`FULL_PARSE_BYTES` are parsed completely; larger ones take their column
types from the first block and their row count from a quote-aware scan of the record separators.
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path
from typing import Any

from nbtrail.core.errors import DataError
from nbtrail.data.csvformat import arrow_options, sniff
from nbtrail.data.statcache import Description

FULL_PARSE_BYTES = 64 * 1024 * 1024
_SAMPLE_BLOCK = 4 * 1024 * 1024
_SCAN_CHUNK = 4 * 1024 * 1024


def count_csv_records(path: str | os.PathLike[str]) -> int:
    """Non-empty records in a CSV file (header included), honouring quoted newlines.

    A newline ends a record only outside double quotes (``""`` inside a quoted field keeps
    the parity right); empty lines (``\\n`` or ``\\r\\n`` alone) are skipped, as pyarrow and
    pandas skip them.
    """
    if os.path.getsize(path) == 0:
        return 0
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return _count_records(mm)


def _bits(chunk: Any, byte: int, scratch: Any) -> Any:
    """Where ``chunk == byte``, packed into little-endian 64-bit words (bit k of word w is
    item 64w+k). ``scratch`` is a reused boolean buffer, so no large array is allocated."""
    import numpy as np

    mask = np.equal(chunk, byte, out=scratch[: chunk.size])
    packed = np.packbits(mask, bitorder="little")
    pad = (-packed.size) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros(pad, np.uint8)])
    return packed.view("<u8")


def _count_records(mm: mmap.mmap) -> int:
    """Count records chunk by chunk, carrying the quote parity and the last record end.

    Quotes, newlines and carriage returns are packed into 64-bit words; the running quote
    parity comes from a prefix XOR inside each word and a cumulative sum across words; record
    ends are the newlines outside quotes, empty records those whose previous byte (or ``\\r``
    and the byte before it) is also a record end; popcount does the counting.
    """
    import numpy as np

    def shl(a: Any, k: int) -> Any:  # shift towards later positions, across word borders
        prev = np.concatenate((np.zeros(1, np.uint64), a[:-1]))
        return (a << np.uint64(k)) | (prev >> np.uint64(64 - k))

    buf = np.frombuffer(mm, dtype=np.uint8)
    size = buf.size
    scratch = np.empty(min(size, _SCAN_CHUNK), dtype=bool)
    records = 0
    quotes = 0  # quotes seen so far (their parity says whether we are inside a field)
    last_end = -1  # position of the previous record end
    for off in range(0, size, _SCAN_CHUNK):
        chunk = buf[off : off + _SCAN_CHUNK]
        term = _bits(chunk, 10, scratch)
        in_quotes = quotes % 2
        # single-byte mmap.find is memchr: far cheaper than building a mask to learn "none"
        if mm.find(b'"', off, off + chunk.size) >= 0 or in_quotes:
            q = _bits(chunk, 34, scratch)
            x = q.copy()
            for shift in (1, 2, 4, 8, 16, 32):
                x ^= x << np.uint64(shift)  # inclusive prefix parity inside each word
            word_par = x >> np.uint64(63)
            carry = (np.cumsum(word_par) - word_par + np.uint64(in_quotes)) & np.uint64(1)
            term &= ~(x ^ np.negative(carry))  # 1 -> all ones
            quotes += int(np.bitwise_count(q).sum())
        count = int(np.bitwise_count(term).sum())
        if count == 0:
            continue
        empty = term & shl(term, 1)
        if mm.find(b"\r", off, off + chunk.size) >= 0:
            empty |= term & shl(_bits(chunk, 13, scratch), 1) & shl(term, 2)
        words = np.flatnonzero(term)
        w0, w1 = int(words[0]), int(words[-1])
        v0, v1 = int(term[w0]), int(term[w1])
        first = off + 64 * w0 + (v0 & -v0).bit_length() - 1
        empty_first = first == last_end + 1 or (first == last_end + 2 and buf[last_end + 1] == 13)
        records += count - int(np.bitwise_count(empty).sum()) - int(empty_first)
        last_end = off + 64 * w1 + v1.bit_length() - 1
    if bytes(buf[last_end + 1 :]).strip(b"\r"):
        records += 1
    return records


def describe_file(path: Path, fmt: str, *, shown: str, full_parse_bytes: int) -> Description:
    """Rows, columns and dtypes of a CSV or Parquet file; DataError when it cannot be read."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    described = "full"
    try:
        if fmt == "parquet":
            pf = pq.ParquetFile(path)
            rows = pf.metadata.num_rows
            schema = pf.schema_arrow
        elif os.path.getsize(path) <= full_parse_bytes:
            table = pacsv.read_csv(path, **arrow_options(sniff(path)))
            rows, schema = table.num_rows, table.schema
        else:
            csv_format = sniff(path, limit=_SAMPLE_BLOCK)
            opts = arrow_options(csv_format, block_size=_SAMPLE_BLOCK)
            with pacsv.open_csv(path, **opts) as reader:
                schema = reader.schema
            rows = count_csv_records(path) - 1
            described = "sampled"
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"cannot read {shown} as {fmt}: {first}", path=shown) from exc
    cols = [n for n in schema.names if not n.startswith("__index_level_")]
    if not cols:
        raise DataError(f"{shown} has no columns", path=shown)
    if len(set(cols)) != len(cols):
        dup = sorted({c for c in cols if cols.count(c) > 1})
        raise DataError(f"{shown} has duplicate column names: {', '.join(dup)}", path=shown)
    dtypes = {n: str(schema.field(n).type) for n in cols}
    return Description(fmt, int(rows), cols, dtypes, described)
