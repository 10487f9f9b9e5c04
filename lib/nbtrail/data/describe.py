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
    counter = RecordCounter()
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        counter.feed(mm, len(mm))
    return counter.total()


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


class RecordCounter:
    """:func:`count_csv_records` over bytes fed in order, a buffer at a time (so a file can be
    counted while it is being copied, without reading it again).

    Each chunk's quotes, newlines and carriage returns are packed into 64-bit words; the
    running quote parity comes from a prefix XOR inside each word and a cumulative sum across
    words; record ends are the newlines outside quotes, empty records those whose previous byte
    (or ``\\r`` and the byte before it) is also a record end; popcount does the counting. What
    crosses a chunk border is carried: the quotes seen, the last record end, the byte before
    the chunk, and whether anything but ``\\r`` followed the last record end.
    """

    def __init__(self) -> None:
        import numpy as np

        self.fed = 0  # bytes seen so far
        self._records = 0
        self._quotes = 0  # their parity says whether we are inside a quoted field
        self._last_end = -1  # absolute position of the previous record end
        self._prev_byte = -1  # the byte just before the next chunk
        self._tail = False  # a non-\r byte after the last record end
        self._scratch = np.empty(_SCAN_CHUNK, dtype=bool)

    def feed(self, data: Any, n: int) -> None:
        """Count the first ``n`` bytes of ``data`` (bytes, bytearray or mmap: anything with a
        buffer and ``find``), which follow the bytes fed before."""
        import numpy as np

        buf = np.frombuffer(data, dtype=np.uint8, count=n)
        for start in range(0, n, _SCAN_CHUNK):
            end = min(n, start + _SCAN_CHUNK)
            self._chunk(data, buf[start:end], start, end)

    def discard(self) -> None:
        """Forget what was fed (it is not what was stored): :attr:`fed` becomes -1."""
        self.fed = -1

    def total(self) -> int:
        """The records counted: every record end, plus a last record without one."""
        return self._records + int(self._tail)

    def _chunk(self, data: Any, chunk: Any, start: int, end: int) -> None:
        import numpy as np

        def shl(a: Any, k: int) -> Any:  # shift towards later positions, across word borders
            prev = np.concatenate((np.zeros(1, np.uint64), a[:-1]))
            return (a << np.uint64(k)) | (prev >> np.uint64(64 - k))

        off = self.fed
        self.fed += chunk.size
        prev_byte, self._prev_byte = self._prev_byte, int(chunk[-1])
        term = _bits(chunk, 10, self._scratch)
        in_quotes = self._quotes % 2
        # a single-byte find is memchr: far cheaper than building a mask to learn "none"
        if in_quotes or data.find(b'"', start, end) >= 0:
            q = _bits(chunk, 34, self._scratch)
            x = q.copy()
            for shift in (1, 2, 4, 8, 16, 32):
                x ^= x << np.uint64(shift)  # inclusive prefix parity inside each word
            word_par = x >> np.uint64(63)
            carry = (np.cumsum(word_par) - word_par + np.uint64(in_quotes)) & np.uint64(1)
            term &= ~(x ^ np.negative(carry))  # 1 -> all ones
            self._quotes += int(np.bitwise_count(q).sum())
        count = int(np.bitwise_count(term).sum())
        if count == 0:
            self._tail = self._tail or bool(np.any(chunk != 13))
            return
        empty = term & shl(term, 1)
        if data.find(b"\r", start, end) >= 0:
            empty |= term & shl(_bits(chunk, 13, self._scratch), 1) & shl(term, 2)
        words = np.flatnonzero(term)
        w0, w1 = int(words[0]), int(words[-1])
        v0, v1 = int(term[w0]), int(term[w1])
        first = off + 64 * w0 + (v0 & -v0).bit_length() - 1
        last = self._last_end
        after = int(chunk[last + 1 - off]) if last + 1 >= off else prev_byte
        empty_first = first == last + 1 or (first == last + 2 and after == 13)
        self._records += count - int(np.bitwise_count(empty).sum()) - int(empty_first)
        self._last_end = off + 64 * w1 + v1.bit_length() - 1
        rest = chunk[self._last_end + 1 - off :]
        self._tail = bool(rest.size) and bool(np.any(rest != 13))


def describe_file(
    path: Path, fmt: str, *, shown: str, full_parse_bytes: int, records: int | None = None
) -> Description:
    """Rows, columns and dtypes of a CSV or Parquet file; DataError when it cannot be read.

    ``records``: the file's :func:`count_csv_records`, when already counted (while copying).
    """
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
            rows = (records if records is not None else count_csv_records(path)) - 1
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
