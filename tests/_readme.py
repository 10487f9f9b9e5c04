"""The README's fenced blocks and the commands they show, for the tests that hold it true."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from _project import REPO, THREAD_POOLS, nbtrail

README = (REPO / "README.md").read_text()
COMMAND_PREFIXES = (".venv/bin/nbtrail", ".venv/bin/papermill")


def blocks(lang: str) -> list[str]:
    """The fenced blocks of the README opened with ```<lang> (exactly)."""
    return [text for _, opened, text in _fenced() if opened == lang]


def commands() -> list[tuple[str, str]]:
    """(section heading, line) of every nbtrail and papermill command in the console
    blocks, in README order."""
    return [
        (section, line)
        for section, opened, text in _fenced()
        if opened == "console"
        for line in text.splitlines()
        if line.startswith(COMMAND_PREFIXES)
    ]


def _fenced() -> list[tuple[str, str, str]]:
    out, current, inside, section = [], [], None, ""
    for line in README.splitlines():
        if line.startswith("```"):
            if inside is None:
                inside, current = line[3:].strip(), []
            else:
                out.append((section, inside, "\n".join(current) + "\n"))
                inside = None
        elif inside is not None:
            current.append(line)
        elif line.startswith("## "):
            section = line[3:].strip()
    return out


def run_line(line: str, root: Path, tmp: Path) -> subprocess.CompletedProcess:
    """Run a README command line in the project at ``root`` (``/tmp/`` paths moved under
    ``tmp``); asserts the exit code it states (``# exits N``, else 0)."""
    cmd, _, comment = line.partition("#")
    expected = re.search(r"exits (\d+)", comment)
    argv = [a.replace("/tmp/", f"{tmp}/") for a in shlex.split(cmd)]
    if argv[0].endswith("nbtrail"):
        out = nbtrail(root, *argv[1:])
    else:
        out = subprocess.run(
            [sys.executable, "-m", "papermill", *argv[1:]],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(tmp),
                "NBTRAIL_ROOT": str(root),
                # the thread pools' sizes of the shell the other commands run in: a model
                # trained with another OpenMP thread count is other bytes, and `reproduce`
                # of this run says so
                **{k: v for k, v in os.environ.items() if k in THREAD_POOLS},
            },
        )
    want = int(expected.group(1)) if expected else 0
    assert out.returncode == want, (cmd, out.stdout[-1500:], out.stderr[-1500:])
    return out
