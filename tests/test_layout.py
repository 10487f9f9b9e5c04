"""The repository is what the README promises: its folders, files, pins and make targets (its
commands run in tests/test_readme_commands.py)."""

from __future__ import annotations

import re
import subprocess
import tomllib

import yaml
from _project import REPO
from _readme import README, blocks


def test_layout_block_folders_exist():
    (layout,) = [b for b in blocks("") if "notebooks/" in b]
    for line in layout.splitlines():
        folder = line.split()[0].rstrip("/")
        assert (REPO / folder).is_dir(), folder
    for f in (
        "pyproject.toml",
        "environment.yml",
        "Makefile",
        "CHANGELOG.md",
        ".ci/run",
        "workspace/README.md",
        "lib/nbtrail/README.md",
        "requirements.lock",
    ):
        assert (REPO / f).is_file(), f


def test_readme_starts_with_the_two_commands():
    first = blocks("console")[0]
    assert first.splitlines()[0].startswith("make run")
    assert first.splitlines()[1].startswith("make test")
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_make_help_lists_the_targets_the_readme_names():
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0
    for target in set(re.findall(r"`make (\w+)`", README)) | {"run", "test", "lab"}:
        assert f"make {target}" in out.stdout, target


def _pins(reqs: list[str]) -> dict[str, str]:
    out = {}
    for r in reqs:
        name = re.split(r"[=<>\[ ]", r, maxsplit=1)[0].lower().replace("_", "-")
        out[name] = r[len(re.split(r"[=<>]", r, maxsplit=1)[0]) :]
    return out


def test_environment_yml_agrees_with_package_metadata():
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    deps = meta["dependencies"] + meta["optional-dependencies"]["test"]
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    (pip_section,) = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert _pins(pip_section["pip"]) == _pins(deps)


def test_lock_satisfies_every_direct_pin():
    from packaging.requirements import Requirement

    lock = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if "==" in line:
            name, version = line.split("==")
            lock[name.lower().replace("_", "-")] = version.strip()
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    for dep in meta["dependencies"] + meta["optional-dependencies"]["test"]:
        req = Requirement(dep)
        name = req.name.lower().replace("_", "-")
        assert name in lock, f"{name} missing from requirements.lock"
        assert req.specifier.contains(lock[name], prereleases=True), (dep, lock[name])


def test_the_package_map_names_every_module():
    """lib/nbtrail/README.md is the map of the house: a module it does not name is a room
    nobody can find."""
    pkg = REPO / "lib" / "nbtrail"
    text = (pkg / "README.md").read_text()
    missing = [
        str(p.relative_to(pkg))
        for p in sorted(pkg.rglob("*.py"))
        if p.name != "__init__.py" and p.stem not in text
    ]
    assert not missing, f"add these to lib/nbtrail/README.md: {missing}"
