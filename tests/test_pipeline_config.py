from __future__ import annotations

import pytest
from _project import make_project

from nbtrail.core.errors import ConfigError, ParameterError
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.config import load_pipeline
from nbtrail.pipeline.plan import plan


@pytest.fixture
def project(tmp_path) -> Workspace:
    return Workspace(make_project(tmp_path / "p"))


def test_the_real_pipeline_loads_in_order(project):
    p = load_pipeline(project)
    assert p.order == ("data", "train", "evaluate", "export", "monitor")
    assert p.downstream("train") == ["train", "evaluate", "export", "monitor"]
    assert p.downstream("export") == ["export"]


def test_malformed_yaml_names_file_and_line(project):
    (project.params_dir / "train.yaml").write_text("model: hist\nmax_depth: [3\nseed: 1\n")
    with pytest.raises(ConfigError) as err:
        plan(project)
    assert "params/train.yaml:" in str(err.value)
    assert err.value.line is not None and err.value.line >= 2


def test_malformed_pipeline_yaml(project):
    project.pipeline_file.write_text("stages:\n  data:\n    notebook: [x\n")
    with pytest.raises(ConfigError, match=r"params/pipeline.yaml:\d+: malformed YAML"):
        load_pipeline(project)


def test_unknown_stage_key_and_missing_notebook(project):
    text = project.pipeline_file.read_text()
    project.pipeline_file.write_text(text.replace("    needs: [data]\n", "    neeeds: [data]\n", 1))
    with pytest.raises(ConfigError, match="unknown keys"):
        load_pipeline(project)
    project.pipeline_file.write_text(text.replace("02_train", "99_missing"))
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline(project)


def test_needs_must_come_earlier(project):
    project.pipeline_file.write_text(
        "stages:\n  a:\n    notebook: notebooks/01_data.ipynb\n    needs: [b]\n"
    )
    with pytest.raises(ConfigError, match="not declared before"):
        load_pipeline(project)


def test_plan_refuses_unknown_parameter_with_valid_names(project):
    with pytest.raises(ParameterError) as err:
        plan(project, overrides=["train.max_dept=4"])
    assert "max_dept" in str(err.value) and "max_depth" in str(err.value)
    assert "valid parameters:" in str(err.value)


def test_plan_refuses_wrong_type_and_unknown_stage(project):
    with pytest.raises(ParameterError, match="expects int"):
        plan(project, overrides=["train.max_depth=deep"])
    with pytest.raises(ConfigError, match="unknown stage 'trian'"):
        plan(project, overrides=["trian.max_depth=4"])


def test_params_file_layer(project, tmp_path):
    f = tmp_path / "exp.yaml"
    f.write_text("train:\n  max_depth: 5\n")
    rp = plan(project, params_file=f, overrides=["train.n_estimators=7"])
    assert rp.params["train"]["max_depth"] == 5
    assert rp.params["train"]["n_estimators"] == 7
    f.write_text("train:\n  bogus: 1\n")
    with pytest.raises(ParameterError, match=r"from .*exp.yaml"):
        plan(project, params_file=f)


def test_a_dataset_profile_applies_only_to_its_source(project):
    demo = plan(project).params["evaluate"]
    assert demo["gates"]["min_roc_auc"] == 0.9 and "mean_radius" in demo["slices"]
    own = plan(project, overrides=["data.source=elsewhere.csv"]).params["evaluate"]
    assert own["gates"] == {} and own["slices"] == "auto" and own["behavioural"] == {}
    # -p still wins over the profile, one entry of a mapping parameter at a time
    tuned = plan(project, overrides=["evaluate.gates.min_roc_auc=0.95"]).params["evaluate"]
    assert tuned["gates"]["min_roc_auc"] == 0.95 and tuned["gates"]["max_log_loss"] == 0.5


def test_a_bad_profile_is_refused_before_anything_runs(project):
    text = project.pipeline_file.read_text()
    project.pipeline_file.write_text(text.replace("{data.source:", "{data_source:"))
    with pytest.raises(ConfigError, match="STAGE.PARAM"):
        load_pipeline(project)
    project.pipeline_file.write_text(text.replace("breast_cancer.yaml", "nope.yaml"))
    with pytest.raises(ConfigError, match="nope.yaml not found"):
        load_pipeline(project)
