"""What a source or batch string names, decided without reading anything: a scikit-learn
dataset, a file, a folder, or a dataset version in the store.

The data stage (``source``) and the monitor stage (``batch``) read their inputs through these
rules, and the runner checks the same rules before any kernel starts, so a hostile name is
refused in one line either way (:func:`check_source`, :func:`check_batches`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from nbtrail.core.errors import NameRefused, ParameterError
from nbtrail.data.versions import parse_ref

SKLEARN_SOURCES = ("breast_cancer", "wine", "diabetes", "iris")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
BATCH_SUFFIXES = (".csv", ".parquet", ".pq")
DEMO_BATCH = "demo"

SourceKind = Literal["sklearn", "file", "dataset"]
BatchKind = Literal["folder", "file", "dataset"]


def _under(root: Path, item: str) -> Path:
    path = Path(item)
    return path if path.is_absolute() else root / path


def _is(path: Path, test: Literal["file", "dir"]) -> bool:
    """``path.is_file()`` / ``is_dir()``, False for a name the OS refuses (too long, NUL)."""
    try:
        return path.is_file() if test == "file" else path.is_dir()
    except (OSError, ValueError):
        return False


def classify_source(source: str, root: Path) -> tuple[SourceKind, str]:
    """``(kind, what)``: ``("sklearn", name)``, ``("file", path)`` (a file suffix, or an
    existing file) or ``("dataset", NAME[@VERSION])``."""
    if source.startswith("sklearn:"):
        return "sklearn", source.split(":", 1)[1]
    if source.startswith("dataset:"):
        return "dataset", source.split(":", 1)[1]
    path = _under(root, source)
    if path.suffix.lower() in CSV_SUFFIXES + PARQUET_SUFFIXES or _is(path, "file"):
        return "file", str(path)
    return "dataset", source


def check_source(source: str, root: Path) -> SourceKind:
    """Refuse a source that cannot name anything: an unknown scikit-learn dataset
    (:class:`ParameterError`) or a dataset name the store refuses (:class:`NameRefused`).
    Whether the file or dataset exists is left to the reader."""
    kind, what = classify_source(source, root)
    if kind == "sklearn" and what not in SKLEARN_SOURCES:
        raise ParameterError(
            f"unknown scikit-learn dataset {what!r}",
            parameter="source",
            hint=f"use one of: {', '.join('sklearn:' + n for n in SKLEARN_SOURCES)}",
        )
    if kind == "dataset":
        try:
            parse_ref(what)
        except NameRefused as exc:
            raise NameRefused(
                f"source {_shown(source)} is neither a .csv/.parquet file nor a dataset "
                f"name ({exc.message})",
                hint=exc.hint,
                name=exc.facts.get("name"),
            ) from None
    return kind


def batch_items(spec: str, root: Path) -> list[tuple[str, BatchKind, Path]]:
    """The monitor stage's ``batch`` (comma-separated) as ``(item, kind, path)``: a folder, a
    file (by its suffix) or a dataset ``NAME[@VERSION]`` (path unused). Empty items skipped."""
    out: list[tuple[str, BatchKind, Path]] = []
    for item in (s.strip() for s in str(spec).split(",")):
        if not item:
            continue
        path = _under(root, item)
        if _is(path, "dir"):
            out.append((item, "folder", path))
        elif path.suffix.lower() in BATCH_SUFFIXES:
            out.append((item, "file", path))
        else:
            out.append((item, "dataset", path))
    return out


def check_batches(spec: str, root: Path) -> None:
    """Refuse a ``batch`` whose dataset items the store would refuse (:class:`NameRefused`);
    ``demo`` and files or folders pass (their existence is left to the reader)."""
    if spec == DEMO_BATCH:
        return
    for item, kind, _ in batch_items(spec, root):
        if kind == "dataset":
            parse_ref(item)


def _shown(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:60]) + f"... ({len(text)} chars)"
