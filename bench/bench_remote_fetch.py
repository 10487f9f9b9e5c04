"""Benchmark: fetching one object from a folder remote, verified, the old way and the new.

Old: ``fs.get_file`` (an unbounded copy) then a BLAKE3 hash of the copy. New:
:func:`nbtrail.data.remote_objects.fetch_object` (a kernel-side copy of at most one byte past
the manifest's size, then the same threaded hash), which refuses a huge object instead of
copying it whole. The same random object, best of ``--repeat`` runs each, in a temp folder.

    .venv/bin/python bench/bench_remote_fetch.py [--mib 512] [--repeat 3] [--summary PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path


def _load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=512, help="object size in MiB")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--summary", type=Path, help="write the JSON summary here")
    args = ap.parse_args()

    import fsspec

    from nbtrail.core.errors import RemoteRefused
    from nbtrail.core.hashing import hash_bytes, hash_file
    from nbtrail.data.remote_objects import fetch_object, object_key

    start, load0 = time.perf_counter(), _load()
    top = Path(tempfile.mkdtemp(prefix="nbtrail-bench-fetch-"))
    try:
        data = os.urandom(1 << 20) * args.mib
        digest = hash_bytes(data)
        root = top / "remote"
        key = Path(object_key(str(root), digest))
        key.parent.mkdir(parents=True)
        key.write_bytes(data)
        del data
        fs = fsspec.filesystem("file")
        dest = top / "dest"
        old, new = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fs.get_file(str(key), str(dest))
            assert hash_file(dest) == digest
            old.append(time.perf_counter() - t)
            dest.unlink()
            t = time.perf_counter()
            size = args.mib << 20
            fetch_object(fs, str(root), digest, dest, url=str(root), what="bench", size=size)
            new.append(time.perf_counter() - t)
            dest.unlink()
        with key.open("r+b") as f:  # a hostile remote: 4 GiB (sparse) where 4 bytes are due
            f.truncate(4 << 30)
        t = time.perf_counter()
        try:
            fetch_object(fs, str(root), digest, dest, url=str(root), what="bench", size=4)
        except RemoteRefused:
            refused = time.perf_counter() - t
        else:
            raise SystemExit("a 4 GiB object was accepted")
        copied = dest.stat().st_size if dest.exists() else 0
    finally:
        shutil.rmtree(top, ignore_errors=True)
    cmd = f".venv/bin/python bench/bench_remote_fetch.py --mib {args.mib} --repeat {args.repeat}"
    ratio = min(new) / min(old)
    rows = [
        {
            "area": "remote fetch (folder)",
            "target": "none in issue 16 (a guard: the bounded, verified fetch of "
            f"{args.mib:,} MiB within 1.1x of get_file + hash)",
            "measured": f"{min(new):.2f} s vs {min(old):.2f} s ({ratio:.2f}x)",
            "verdict": "no target",
            "command": cmd,
        },
        {
            "area": "remote fetch (folder), hostile",
            "target": "a huge object refused, not copied (issue 16)",
            "measured": f"4 GiB object refused in {refused * 1000:,.1f} ms, {copied:,} bytes copied",
            "verdict": "met" if copied <= 5 else "not met",
            "command": cmd,
        },
    ]
    load = [round(load0, 2), round(_load(), 2)]
    for row in rows:
        print(f"{row['area']}: {row['measured']} [{row['verdict']}] load {load}")
    if args.summary:
        summary = {"rows": rows, "load": load, "seconds": round(time.perf_counter() - start, 1)}
        args.summary.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
