"""A notebook that does not use the nbtrail API joins a pipeline through declared files."""

from __future__ import annotations

import json

import nbformat
import pytest
from _project import by_stage, nbtrail

pytestmark = pytest.mark.slow


def _plain_notebook(path, body: str) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("scale = 2")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# plain papermill notebook"), params]
    nb.cells.append(nbformat.v4.new_code_cell(body))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "plain"
    for d in ("params", "notebooks", "data", "workspace"):
        (root / d).mkdir(parents=True)
    (root / "data" / "in.csv").write_text("x\n1\n2\n3\n")
    _plain_notebook(
        root / "notebooks" / "sum.ipynb",
        "import csv, json, pathlib\n"
        "rows = list(csv.DictReader(open('../data/in.csv')))\n"
        "pathlib.Path('../data/out').mkdir(exist_ok=True)\n"
        "json.dump({'total': scale * sum(int(r['x']) for r in rows)},"
        " open('../data/out/total.json', 'w'))\n",
    )
    (root / "params" / "pipeline.yaml").write_text(
        "version: 1\nstages:\n  total:\n    notebook: notebooks/sum.ipynb\n"
        "    inputs: [data/in.csv]\n    outputs: [data/out/total.json]\n"
    )
    return root


def test_declared_files_are_hashed_recorded_and_drive_reruns(project):
    out = nbtrail(project, "run")
    assert out.returncode == 0, out.stderr[-2000:]
    (rec,) = by_stage(project)["total"]
    assert json.loads((project / "data/out/total.json").read_text()) == {"total": 12}
    assert rec["inputs"][0]["path"] == "data/in.csv" and rec["inputs"][0]["digest"]
    assert rec["outputs"]["data/out/total.json"]["digest"]
    assert nbtrail(project, "run").stdout.count("reused") >= 1
    assert len(by_stage(project)["total"]) == 1
    (project / "data" / "in.csv").write_text("x\n1\n2\n3\n4\n")
    out = nbtrail(project, "run", "-p", "total.scale=3")
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads((project / "data/out/total.json").read_text()) == {"total": 30}
    assert len(by_stage(project)["total"]) == 2


def test_missing_declared_output_fails_the_run(project):
    text = (project / "params" / "pipeline.yaml").read_text()
    (project / "params" / "pipeline.yaml").write_text(text.replace("total.json]", "nope.json]"))
    out = nbtrail(project, "run")
    assert out.returncode == 6
    assert "MissingOutput: declared outputs not written: data/out/nope.json" in out.stderr
    (rec,) = by_stage(project)["total"]
    assert rec["status"] == "failed"
