"""The standalone loader every bundle ships (``load_bundle.py``, a file of this package) and
the smoke test that runs it as a serving system would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from nbtrail.core.errors import IntegrityError

LOADER_FILE = "load_bundle.py"


def loader_source() -> bytes:
    """The bytes of ``load_bundle.py`` as this package ships it (copied into each bundle)."""
    return resources.files("nbtrail.practices.export").joinpath(LOADER_FILE).read_bytes()


def smoke_test(folder: str | os.PathLike[str], *, engine: str = "onnx") -> dict[str, Any]:
    """Run the bundle's own ``load_bundle.py`` in a fresh, isolated Python (``-I``, no
    ``PYTHON*``/``NBTRAIL*`` variables, cwd outside the project) on its sample rows."""
    root = Path(folder).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "NBTRAIL"))}
    proc = subprocess.run(
        [sys.executable, "-I", str(root / LOADER_FILE), "--engine", engine],
        cwd=tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        err = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise IntegrityError(f"{root}: {LOADER_FILE} failed: {err}", path=str(root))
    return json.loads(proc.stdout)
