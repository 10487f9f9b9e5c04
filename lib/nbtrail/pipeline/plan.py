"""A run's plan: the stages to execute and their parameters, all checked before any kernel
starts (YAML, stage names, parameter names and types, where each value came from)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError
from nbtrail.core.workspace import Workspace
from nbtrail.core.yamlio import load_yaml
from nbtrail.pipeline import parameters
from nbtrail.pipeline.config import Pipeline, load_pipeline


@dataclass
class RunPlan:
    pipeline: Pipeline
    stages: list[str]
    params: dict[str, dict[str, Any]]


def _layered_overrides(
    pipeline: Pipeline, params_file: Path | None, overrides: list[str]
) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """Per stage, the override layers in order (values, where they came from)."""
    layers: dict[str, list[tuple[dict[str, Any], str]]] = {s: [] for s in pipeline.order}
    if params_file is not None:
        data = load_yaml(params_file, pipeline.ws)
        if not isinstance(data, dict):
            raise ConfigError(
                "expected a mapping of stage names to parameter mappings", path=str(params_file)
            )
        for stage, values in data.items():
            pipeline.stage(stage)
            if not isinstance(values, dict):
                raise ConfigError(f"stage {stage!r}: expected a mapping", path=str(params_file))
            layers[stage].append((values, str(params_file)))
    for text in overrides:
        stage, key, value = parameters.parse_override(text)
        pipeline.stage(stage)
        layers[stage].append(({key: value}, f"-p {text}"))
    return layers


def plan(
    ws: Workspace,
    *,
    stage: str | None = None,
    overrides: list[str] | None = None,
    params_file: Path | None = None,
) -> RunPlan:
    """Everything checked before any kernel starts: YAML, stage names, parameter names, types."""
    pipeline = load_pipeline(ws)
    layers = _layered_overrides(pipeline, params_file, overrides or [])
    selected = [pipeline.stage(stage).name] if stage else list(pipeline.order)
    resolved: dict[str, dict[str, Any]] = {}
    for name in pipeline.order:
        st = pipeline.stages[name]
        stack = [(pipeline.defaults(name), ws.relative(st.params_file) if st.params_file else "")]
        stack += layers[name]
        resolved[name] = parameters.resolve(
            name, st.notebook, *[v for v, _ in stack], where=[w for _, w in stack]
        )
        if name not in selected and layers[name]:
            raise ConfigError(
                f"parameters given for stage {name!r}, which this run does not execute",
                hint=f"add --stage {name} or drop its -p values",
            )
    return RunPlan(pipeline=pipeline, stages=selected, params=resolved)
