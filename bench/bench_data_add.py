"""Benchmark: `nbtrail data add` versus `dvc add` on the same ~1 GB CSV, side by side.

    .venv/bin/python bench/bench_data_add.py [--dvc /tmp/dvcvenv/bin/dvc] [--size-mb 1024]
        [--summary PATH] [--workdir DIR: keeps the generated CSV for the next run]

Targets (issue 16): a 1.09 GB first add <= 1.0 s as a whole process, and >= 2x the
throughput of ``dvc add`` in the same run; a re-add <= 5 % of the first add. ``--summary``
writes the rows for ``make bench`` (BENCHMARKS.md) as JSON.

DVC is not a project dependency: install it into a throwaway venv first, e.g.
``python3 -m venv /tmp/dvcvenv && /tmp/dvcvenv/bin/pip install dvc``.

Both tools run as CLI subprocesses on the same file (kept in the page cache, read once before
each timed run), alternating, median of ``--repeats`` runs:

* first add: nbtrail with an empty object store and stat cache; DVC with its cache, its
  ``tmp/`` and its site cache (hash state) removed; ``sync`` before each timed run, so no
  run pays for the previous one's dirty pages (nbtrail fsyncs each object; DVC does not);
* re-add of unchanged data (each tool right after its own first add);
* disk usage of nbtrail's object store before and after the re-add (no second copy);
* ``data checkout``: inode and link count of the checked-out file (hard link) and what the
  default ``auto`` mode does for the current user;
* where a first add's time goes, phase by phase, in one process: reading the file, hashing it,
  the one-pass copy (read, hash, write) next to ``copy_file_range`` alone and to
  ``copy_file_range`` + hashing the copy, the fsync, describing the copy (rows, columns), and
  the manifest + stat cache writes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_csv(path: Path, size_mb: int, quoted: bool) -> None:
    """A CSV of numeric and string columns; strings quoted as pyarrow writes them, or not at
    all as pandas writes them (``quoted=False``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    n = 200_000
    cols = {f"f{i}": rng.normal(size=n).round(6) for i in range(10)}
    cols["count"] = rng.integers(0, 10_000, n)
    cols["label"] = rng.choice(["alpha", "beta", "gamma"], n)
    table = pa.table(cols)
    target = size_mb * 1024 * 1024
    with open(path, "wb") as fh:
        opts = pacsv.WriteOptions(quoting_style="needed" if quoted else "none")
        writer = pacsv.CSVWriter(fh, table.schema, write_options=opts)
        while fh.tell() < target:
            writer.write_table(table)
            # vary the bytes between blocks so the file is not one block repeated
            cols["count"] = rng.integers(0, 10_000, n)
            table = pa.table(cols)
        writer.close()


def warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(16 * 1024 * 1024):
            pass


def timed(cmd: list[str], cwd: Path, env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall-clock seconds of ``cmd``; its CPU seconds (user + system) go to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return elapsed


def du(path: Path) -> int:
    seen: set[int] = set()
    total = 0
    for p in path.rglob("*"):
        if p.is_file():
            st = p.stat()
            if st.st_ino not in seen:
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


def _timed_call(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def _one_pass(src: int, dst: int) -> None:
    """The alternative measured against nbtrail's: one thread reads a chunk, hashes it and
    writes it out (the bytes read once, but nothing overlaps)."""
    import blake3

    h = blake3.blake3(max_threads=blake3.blake3.AUTO)
    buf = memoryview(bytearray(16 * 1024 * 1024))
    while n := os.readv(src, [buf]):
        h.update(buf[:n])
        view = buf[:n]
        while view:
            view = view[os.write(dst, view) :]


def _copy_file_range(src: int, dst: int) -> None:
    size, done = os.fstat(src).st_size, 0
    while done < size:
        done += os.copy_file_range(src, dst, 64 * 1024 * 1024)


def phases(data: Path, scratch: Path, repeats: int) -> dict[str, float]:
    """Median seconds of each phase of a first add, in this process (file in the page cache;
    ``sync`` before each write so no phase pays for an earlier one's dirty pages)."""
    sys.path.insert(0, str(REPO / "lib"))
    import blake3

    from nbtrail.core.hashing import hash_file
    from nbtrail.data.describe import (
        FULL_PARSE_BYTES,
        RecordCounter,
        count_csv_records,
        describe_file,
    )
    from nbtrail.data.store import copy_hashing

    dst = scratch / "phase.part"
    out: dict[str, list[float]] = {}

    def add(name: str, seconds: float) -> None:
        out.setdefault(name, []).append(seconds)

    def fresh() -> tuple[int, int]:
        dst.unlink(missing_ok=True)
        os.sync()
        return os.open(data, os.O_RDONLY), os.open(dst, os.O_WRONLY | os.O_CREAT, 0o600)

    def read_all() -> None:
        buf = memoryview(bytearray(8 * 1024 * 1024))
        fd = os.open(data, os.O_RDONLY)
        try:
            while os.readv(fd, [buf]):
                pass
        finally:
            os.close(fd)

    def hash_source() -> None:
        h = blake3.blake3(max_threads=blake3.blake3.AUTO)
        h.update_mmap(data)

    def count_source() -> None:
        count_csv_records(data)

    for _ in range(repeats):
        warm(data)
        add("read (8 MiB reads, page cache)", _timed_call(read_all))
        add("hash (BLAKE3 mmap, all cores)", _timed_call(hash_source))
        add("count records (RecordCounter, mmap)", _timed_call(count_source))
        src, fd = fresh()
        add(
            "nbtrail: copy_file_range + fsync | hash | count",
            _timed_call(copy_hashing, src, fd, RecordCounter().feed),
        )
        os.close(src)
        os.close(fd)
        src, fd = fresh()
        add("tried: one pass read, hash, write", _timed_call(_one_pass, src, fd))
        add("tried: fsync after that one pass", _timed_call(os.fsync, fd))
        os.close(src)
        os.close(fd)
        src, fd = fresh()
        add("copy_file_range alone", _timed_call(_copy_file_range, src, fd))
        add("fsync after copy_file_range", _timed_call(os.fsync, fd))
        os.close(src)
        os.close(fd)
        add("old second pass: hash the copy", _timed_call(hash_file, dst))
        add(
            "describe the copy, counting (old)",
            _timed_call(
                lambda: describe_file(
                    dst, "csv", shown="big.csv", full_parse_bytes=FULL_PARSE_BYTES
                )
            ),
        )
        add(
            "describe the copy, rows known (now)",
            _timed_call(
                lambda: describe_file(
                    dst, "csv", shown="big.csv", full_parse_bytes=FULL_PARSE_BYTES, records=1
                )
            ),
        )
        dst.unlink(missing_ok=True)
    return {k: statistics.median(v) for k, v in out.items()}


def record_phase(ws: Path, data: Path, repeats: int) -> float:
    """Median seconds of what follows the copy: the manifest and the stat cache writes."""
    from nbtrail.core.workspace import Workspace
    from nbtrail.data.datasets import Datasets
    from nbtrail.data.statcache import Description, FileStat, StatCache

    cat = Datasets(Workspace(ws))
    st = FileStat.of(data)
    desc = Description("csv", 1, ["a"], {"a": "int64"}, "sampled")
    times = []
    for i in range(repeats):
        digest = f"{i:064x}"
        t0 = time.perf_counter()
        cache = StatCache(cat.ws)
        cache.record(st, digest)
        cache.remember_description(digest, desc)
        cat._record(
            "phase-probe",
            digest=digest,
            fmt="csv",
            rows=1,
            cols=["a"],
            dtypes={"a": "int64"},
            source=str(data),
            run_id=None,
            nbytes=1,
            extra={},
        )
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def write_summary(path: str, rows: list[dict[str, str]], load: list[float], seconds: float) -> None:
    Path(path).write_text(
        json.dumps({"rows": rows, "load": load, "seconds": round(seconds, 1)}, indent=2) + "\n"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dvc", default="/tmp/dvcvenv/bin/dvc", help="path of the dvc executable")
    ap.add_argument("--size-mb", type=int, default=1024, help="default: 1.09 GB")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--unquoted", action="store_true", help="write strings unquoted (as pandas.to_csv does)"
    )
    ap.add_argument("--workdir", default=None, help="scratch folder (default: a temp folder)")
    ap.add_argument("--summary", metavar="PATH", help="write the rows for `make bench` as JSON")
    ap.add_argument("--no-phases", action="store_true", help="skip the per-phase timings")
    args = ap.parse_args()
    wall0 = time.perf_counter()

    dvc = shutil.which(args.dvc) or args.dvc
    if not Path(dvc).exists():
        raise SystemExit(f"dvc not found at {args.dvc}; see the docstring to install it")
    load0 = os.getloadavg()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="nbtrail-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO / "lib"), "DVC_NO_ANALYTICS": "1"}

    # the workspace and the DVC repo, on the same filesystem as the data
    ws = work / "ws"
    (ws / "params").mkdir(parents=True, exist_ok=True)
    (ws / "params" / "pipeline.yaml").write_text("version: 1\nstages: {}\n")
    repo = work / "dvcrepo"
    for old in (repo / ".dvc", repo / "big.csv.dvc", repo / ".dvcignore"):
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink(missing_ok=True)
    repo.mkdir(exist_ok=True)
    site_cache = work / "dvc-site-cache"
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=repo, env=env, check=True)
    for key, value in (("core.analytics", "false"), ("core.site_cache_dir", str(site_cache))):
        subprocess.run([dvc, "config", key, value], cwd=repo, env=env, check=True)

    data = repo / "big.csv"  # DVC wants the file inside its repo; nbtrail reads it there too
    t0 = time.perf_counter()
    made = work / "big.csv.made"  # what the kept file was generated as
    asked = f"{args.size_mb} {'unquoted' if args.unquoted else 'quoted'}"
    if args.workdir and data.is_file() and made.is_file() and made.read_text() == asked:
        print(f"reusing {data} (--workdir, {asked})")
    else:
        make_csv(data, args.size_mb, quoted=not args.unquoted)
        made.write_text(asked)
    size = data.stat().st_size
    print(f"generated {data} ({size / 1e9:.3f} GB) in {time.perf_counter() - t0:.1f} s")

    os.sync()  # the generated file's dirty pages must not slow the first timed run
    # warm both tools' code into the page cache before timing anything
    subprocess.run([dvc, "version"], cwd=repo, env=env, capture_output=True)
    subprocess.run([sys.executable, "-m", "nbtrail", "--help"], env=env, capture_output=True)

    nb_cmd = [sys.executable, "-m", "nbtrail", "-C", str(ws), "data", "add", str(data), "-n", "big"]
    dvc_cmd = [dvc, "add", "-q", "big.csv"]

    def reset_nbtrail() -> None:
        shutil.rmtree(ws / "workspace", ignore_errors=True)

    def reset_dvc() -> None:
        for p in (repo / ".dvc" / "cache", repo / ".dvc" / "tmp", site_cache):
            shutil.rmtree(p, ignore_errors=True)
        (repo / "big.csv.dvc").unlink(missing_ok=True)

    first = {"nbtrail": [], "dvc": []}
    cpu: dict[str, list[float]] = {"nbtrail": [], "dvc": []}
    readd = {"nbtrail": [], "dvc": []}
    store_before = store_after = 0
    for i in range(args.repeats):
        for tool in ("dvc", "nbtrail") if i % 2 == 0 else ("nbtrail", "dvc"):
            if tool == "dvc":
                reset_dvc()
                warm(data)
                os.sync()  # start each timed run with no dirty pages from the previous one
                first["dvc"].append(timed(dvc_cmd, repo, env, cpu["dvc"]))
                readd["dvc"].append(timed(dvc_cmd, repo, env))
            else:
                reset_nbtrail()
                warm(data)
                os.sync()
                time.sleep(0.1)  # outside the stat cache's racy window
                first["nbtrail"].append(timed(nb_cmd, ws, env, cpu["nbtrail"]))
                store_before = du(ws / "workspace" / "data" / "objects")
                readd["nbtrail"].append(timed(nb_cmd, ws, env))
                store_after = du(ws / "workspace" / "data" / "objects")
            print(
                f"run {i + 1} {tool:8s} first {first[tool][-1]:6.2f} s  re-add {readd[tool][-1]:6.3f} s"
            )

    # what any nbtrail command costs here (interpreter start + CLI imports), for scale
    floor = statistics.median(
        timed([sys.executable, "-m", "nbtrail", "-C", str(ws), "data", "list"], ws, env)
        for _ in range(args.repeats)
    )

    # the same through the library, in one process (no interpreter start, no CLI imports)
    sys.path.insert(0, str(REPO / "lib"))
    from nbtrail.core.workspace import Workspace
    from nbtrail.data.datasets import Datasets

    lib_first: list[float] = []
    lib_readd: list[float] = []
    for _ in range(args.repeats):
        reset_nbtrail()
        warm(data)
        os.sync()
        time.sleep(0.1)
        cat = Datasets(Workspace(ws))
        t0 = time.perf_counter()
        cat.add_file(data, "big")
        lib_first.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = cat.add(data, "big")
        lib_readd.append(time.perf_counter() - t0)
        assert res.cached and not res.created
    print(
        "library first add "
        + ", ".join(f"{x:.2f}" for x in lib_first)
        + " s; re-add "
        + ", ".join(f"{x * 1000:.1f}" for x in lib_readd)
        + " ms"
    )

    med = {k: statistics.median(v) for k, v in first.items()}
    med_re = {k: statistics.median(v) for k, v in readd.items()}

    # checkout: hard link (same inode) and what auto does here
    obj = next(
        p
        for p in (ws / "workspace" / "data" / "objects").rglob("*")
        if p.is_file() and len(p.name) == 62
    )
    hard = work / "checkout-hard.csv"
    auto = work / "checkout-auto.csv"
    co = [sys.executable, "-m", "nbtrail", "-C", str(ws), "data", "checkout", "big@1"]
    t_hard = timed([*co, str(hard), "--link", "hardlink"], ws, env)
    out_auto = subprocess.run([*co, str(auto)], cwd=ws, env=env, capture_output=True, text=True)
    same_inode = hard.stat().st_ino == obj.stat().st_ino

    print()
    print(
        f"machine: {os.cpu_count()} cpus, {platform.machine()}, Python {platform.python_version()}"
    )
    print(f"date: {datetime.now(UTC).isoformat(timespec='seconds')}")
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}, at the start: {load0}")
    style = "unquoted strings" if args.unquoted else "quoted strings"
    print(f"file: {size / 1e9:.3f} GB CSV ({style}), median of {args.repeats}")
    for tool in ("nbtrail", "dvc"):
        runs = ", ".join(f"{x:.2f}" for x in first[tool])
        print(
            f"first add  {tool:8s} {med[tool]:6.2f} s  ({size / med[tool] / 1e6:6.0f} MB/s)  [{runs}]"
        )
    print(f"throughput ratio nbtrail/dvc: {med['dvc'] / med['nbtrail']:.2f}x (target >= 2x)")
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print(
        f"CPU seconds (user+sys) per first add: nbtrail {cpu_med['nbtrail']:.2f}, "
        f"dvc {cpu_med['dvc']:.2f} (ratio {cpu_med['dvc'] / cpu_med['nbtrail']:.2f}x; "
        "less sensitive to other load than wall time)"
    )
    for tool in ("nbtrail", "dvc"):
        runs = ", ".join(f"{x:.3f}" for x in readd[tool])
        pct = 100 * med_re[tool] / med[tool]
        print(
            f"re-add     {tool:8s} {med_re[tool]:6.3f} s  = {pct:4.1f}% of its first add  [{runs}]"
        )
    print(
        f"CLI start alone (`nbtrail data list`): {floor:.3f} s = "
        f"{100 * floor / med['nbtrail']:.1f}% of nbtrail's first add"
    )
    lf, lr = statistics.median(lib_first), statistics.median(lib_readd)
    print(
        f"library  nbtrail first add {lf:.2f} s ({size / lf / 1e6:.0f} MB/s, "
        f"{med['dvc'] / lf:.2f}x dvc CLI); re-add {lr * 1000:.1f} ms = {100 * lr / lf:.2f}%"
    )
    print(
        f"nbtrail object store: {store_before / 1e6:.1f} MB after first add, "
        f"{store_after / 1e6:.1f} MB after re-add (no second copy: {store_before == store_after})"
    )
    print(
        f"checkout --link hardlink: {t_hard:.2f} s, same inode as the object: {same_inode}, "
        f"st_nlink={hard.stat().st_nlink}, mode={oct(hard.stat().st_mode & 0o777)}"
    )
    print(f"checkout (auto, uid {os.geteuid()}): {out_auto.stdout.strip()}")

    phase_times: dict[str, float] = {}
    if not args.no_phases:
        phase_times = phases(data, work, args.repeats)
        phase_times["manifest + stat cache writes"] = record_phase(ws, data, args.repeats)
        print(
            f"\nwhere a first add goes (one process, median of {args.repeats}; load "
            f"{os.getloadavg()[0]:.1f}):"
        )
        for name, sec in phase_times.items():
            print(f"  {name:45s} {sec:6.3f} s  ({size / sec / 1e6:6.0f} MB/s)")
    load1 = os.getloadavg()[0]
    if args.summary:
        cmd = "python bench/bench_data_add.py" + (" --unquoted" if args.unquoted else "")
        cmd += f" --dvc {args.dvc} --size-mb {args.size_mb} --repeats {args.repeats}"
        what = f"{size / 1e9:.2f} GB CSV ({style})"
        ratio = med["dvc"] / med["nbtrail"]
        rows = [
            {
                "area": f"data add, first add of a {what}, whole process",
                "target": "<= 1.0 s",
                "measured": f"{med['nbtrail']:.2f} s (median of {args.repeats}: {', '.join(f'{x:.2f}' for x in first['nbtrail'])})",
                "verdict": "met" if med["nbtrail"] <= 1.0 else "not met",
                "command": cmd,
            },
            {
                "area": "data add vs dvc add, same file, same run",
                "target": ">= 2x dvc's throughput",
                "measured": f"{ratio:.2f}x (dvc {med['dvc']:.2f} s)",
                "verdict": "met" if ratio >= 2 else "not met",
                "command": cmd,
            },
            {
                "area": "data add, re-add of unchanged data (stat cache)",
                "target": "<= 5% of the first add",
                "measured": f"{med_re['nbtrail']:.3f} s = {100 * med_re['nbtrail'] / med['nbtrail']:.1f}%",
                "verdict": "met" if med_re["nbtrail"] <= 0.05 * med["nbtrail"] else "not met",
                "command": cmd,
            },
            {
                "area": "data add through the library (no interpreter start)",
                "target": "no target",
                "measured": f"{lf:.2f} s",
                "verdict": "no target",
                "command": cmd,
            },
        ]
        for name, sec in phase_times.items():
            rows.append(
                {
                    "area": f"data add phase: {name}",
                    "target": "no target",
                    "measured": f"{sec:.3f} s",
                    "verdict": "no target",
                    "command": cmd,
                }
            )
        write_summary(args.summary, rows, [load0[0], load1], time.perf_counter() - wall0)
        print(f"summary: {args.summary}")
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
