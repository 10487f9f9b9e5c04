"""Lineage: upstream graphs down to data, parameters, code, git and environment; impact; diff."""

from __future__ import annotations

import json
import shutil

import pytest
from _records import Factory, artifact

from nbtrail.core.errors import DataError, NotFound
from nbtrail.runs import lineage


@pytest.fixture
def two_chains(ws):
    f = Factory(ws)
    a = f.chain(data_ref="default@1", C=1.0, auc=0.95)
    b = f.chain(data_ref="default@2", C=0.5, auc=0.97)
    return f, a, b


def test_exported_model_names_data_params_notebook_commit(ws, two_chains) -> None:
    _, a, b = two_chains
    export = b["export"]
    g = lineage.upstream(ws, f"{export['run_id']}:model")
    assert g.target == f"artifact:{export['run_id']}:model"
    train = g.nodes[f"run:{b['train']['run_id']}"]
    assert train["params"] == {"C": 0.5, "seed": 0}
    assert train["notebook"]["hash"] == b["train"]["notebook"]["hash"]
    assert train["git"]["commit"] == "a" * 40
    assert train["environment"]["lock_hash"] == "1" * 64
    assert "data:default@2" in g.nodes and "data:snapshot@2" in g.nodes
    assert "data:default@1" not in g.nodes  # the other chain is not in this lineage
    assert set(g.runs()) == {b[s]["run_id"] for s in ("data", "train", "export")}
    tree = lineage.render_tree(g)
    for text in ("default@2", "C=0.5", b["train"]["notebook"]["hash"][:12], "a" * 12):
        assert text in tree
    dot = lineage.render_dot(g)
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert f'"run:{b["train"]["run_id"]}" -> "artifact:{b["train"]["run_id"]}:model"' in dot
    assert json.loads(json.dumps(g.to_dict()))["target"] == g.target


def test_target_forms(ws, two_chains, tmp_path) -> None:
    _, a, b = two_chains
    tid = b["train"]["run_id"]
    model = b["train"]["outputs"]["model"]
    # a stage metric (latest completed run of the stage)
    g = lineage.upstream(ws, "evaluate:roc_auc")
    assert g.target == f"metric:{b['evaluate']['run_id']}:roc_auc"
    assert g.nodes[g.target]["value"] == 0.97
    assert f"run:{tid}" in g.nodes  # the evaluated model's training run
    # a run id, a prefix, a stage
    assert lineage.upstream(ws, tid).target == f"run:{tid}"
    assert lineage.upstream(ws, tid[:-1]).target == f"run:{tid}"
    assert lineage.upstream(ws, "train").target == f"run:{tid}"
    # a digest prefix and a path, relative to the workspace root
    assert f"run:{tid}" in lineage.upstream(ws, model["digest"][:16]).nodes
    by_path = lineage.upstream(ws, str(ws.root / model["path"]))
    assert by_path.target == f"artifact:{tid}:model"
    # a copy of the exported model outside the workspace is found by its content
    copy = tmp_path / "shipped-model.bin"
    shutil.copy(ws.root / b["export"]["outputs"]["model"]["path"], copy)
    g = lineage.upstream(ws, str(copy))
    assert "data:default@2" in g.nodes and f"run:{tid}" in g.nodes
    # a dataset version
    g = lineage.upstream(ws, "snapshot@1")
    assert g.target == "data:snapshot@1" and f"run:{a['data']['run_id']}" in g.nodes
    with pytest.raises(NotFound, match="no output or metric 'nope'"):
        lineage.upstream(ws, f"{tid}:nope")
    with pytest.raises(NotFound, match="nothing known"):
        lineage.upstream(ws, "deadbeefdeadbeef")


def test_cached_run_lineage_goes_through_the_original(ws) -> None:
    f = Factory(ws)
    chain = f.chain()
    orig = chain["train"]
    cached = f.record(
        "train",
        status="cached",
        params=orig["params"],
        inputs=orig["inputs"],
        outputs=orig["outputs"],
        fingerprint=orig["fingerprint"],
        cached_from=orig["run_id"],
        upstream=orig["upstream"],
    )
    f.write(cached)
    g = lineage.upstream(ws, cached["run_id"])
    assert (f"run:{orig['run_id']}", f"run:{cached['run_id']}", "cached from") in g.edges
    assert "data:default@1" in g.nodes
    # and impact of the data version reaches the cached copy
    down = lineage.impact(ws, "default@1")
    assert cached["run_id"] in down.runs()


def test_impact_walks_forward_from_a_data_version(ws, two_chains) -> None:
    f, a, b = two_chains
    down = lineage.impact(ws, "default@1")
    assert set(down.runs()) == {r["run_id"] for r in a.values()}
    assert f"artifact:{a['export']['run_id']}:model" in down.nodes
    assert f"artifact:{a['evaluate']['run_id']}:report" in down.nodes
    assert not set(down.runs()) & {r["run_id"] for r in b.values()}
    tree = lineage.render_tree(down)
    assert tree.splitlines()[0].startswith("data default@1")
    assert a["export"]["run_id"] in tree
    # an interactive notebook that read default@2 directly is downstream of it
    lab = f.write(
        f.record(
            "explore",
            origin="interactive",
            inputs=[artifact("raw", "dataset", b["data"]["inputs"][0]["digest"], ref="default@2")],
        )
    )
    assert lab["run_id"] in lineage.impact(ws, "default@2").runs()
    with pytest.raises(NotFound):
        lineage.impact(ws, "default@9")
    with pytest.raises(DataError, match="version"):
        lineage.impact(ws, "default")


def test_diff_reports_what_changed(ws, two_chains) -> None:
    f, a, b = two_chains
    d = lineage.diff(ws, a["train"]["run_id"], b["train"]["run_id"])
    changed = {(s, r["field"]) for s in d if isinstance(d[s], list) for r in d[s] if not r["same"]}
    assert ("params", "C") in changed and ("params", "seed") not in changed
    assert ("inputs", "data.snapshot") in changed
    assert ("outputs", "model") in changed
    assert ("notebook", "hash") not in changed and ("git", "commit") not in changed
    (auc,) = d["metrics"]
    assert auc["delta"] == pytest.approx(0.02)
    # code, commit and environment differences
    other = f.record(
        "train",
        params={"C": 0.5, "seed": 0},
        commit="b" * 40,
        code="changed",
        environment=dict(a["train"]["environment"], python="3.11.10", packages={"pandas": "3.0.2"}),
        metrics={"train_auc": None},
        extra={"code_tree": "f" * 64},
    )
    f.write(other)
    d = lineage.diff(ws, b["train"]["run_id"], other["run_id"])
    changed = {(s, r["field"]) for s in d if isinstance(d[s], list) for r in d[s] if not r["same"]}
    assert {("notebook", "hash"), ("notebook", "code_hash"), ("git", "commit")} <= changed
    assert {("environment", "python"), ("environment", "scikit-learn")} <= changed
    assert ("environment", "pandas") in changed
    assert ("extra", "code_tree") in changed
    assert ("params", "C") not in changed
    assert d["metrics"][0]["delta"] is None
    text = lineage.render_diff(d)
    assert "git: 1 differ" in text and "3.11.10" in text and "train_auc" in text
