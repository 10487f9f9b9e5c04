"""A run's plan: the stages to execute and their parameters, all checked before any kernel
starts (YAML, stage names, parameter names and types, where each value came from)."""

from __future__ import annotations

from collections.abc import Mapping
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
    pipeline: Pipeline,
    params_file: Path | None,
    overrides: list[str],
    typed: tuple[Mapping[str, Any], str] | None = None,
) -> dict[str, list[tuple[dict[str, Any], str]]]:
    """Per stage, the override layers in order (values, where they came from)."""
    layers: dict[str, list[tuple[dict[str, Any], str]]] = {s: [] for s in pipeline.order}
    if params_file is not None:
        for stage, values_of in _stage_mapping(pipeline, params_file).items():
            layers[stage].append((values_of, str(params_file)))
    if typed is not None:
        given, where = typed
        for dotted, value in given.items():
            stage, _, key = dotted.partition(".")
            pipeline.stage(stage)
            layers[stage].append(({key: value}, where))
    for text in overrides:
        stage, key, value = parameters.parse_override(text)
        pipeline.stage(stage)
        layers[stage].append(({key: value}, f"-p {text}"))
    return layers


def _stage_mapping(pipeline: Pipeline, path: Path) -> dict[str, dict[str, Any]]:
    """A YAML file of ``{stage: {param: value}}``, checked."""
    data = load_yaml(path, pipeline.ws)
    where = pipeline.ws.relative(path)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of stage names to parameter mappings", path=where)
    for stage, values in data.items():
        pipeline.stage(stage)
        if not isinstance(values, dict):
            raise ConfigError(f"stage {stage!r}: expected a mapping", path=where)
    return data


def _resolve(
    pipeline: Pipeline,
    layers: dict[str, list[tuple[dict[str, Any], str]]],
    profiled: dict[str, list[tuple[dict[str, Any], str]]],
) -> dict[str, dict[str, Any]]:
    """Per stage: its params file, then matching profiles, then ``--params``/``-p`` layers."""
    resolved: dict[str, dict[str, Any]] = {}
    for name in pipeline.order:
        st = pipeline.stages[name]
        where = pipeline.ws.relative(st.params_file) if st.params_file else ""
        stack = [(pipeline.defaults(name), where), *profiled.get(name, []), *layers[name]]
        resolved[name] = parameters.resolve(
            name,
            st.notebook,
            *[v for v, _ in stack],
            where=[w for _, w in stack],
            root=pipeline.ws.root,
        )
    return resolved


def _as_run(
    ws: Workspace, resolved: dict[str, dict[str, Any]], selected: list[str]
) -> dict[str, dict[str, Any]]:
    """The parameters a run will actually work with: its own stages' resolved values, and for
    the stages it does not execute, those of their latest completed run (which the runner
    reads from), so ``--stage evaluate`` after a run on your own data never gets the demo's
    profile."""
    from nbtrail.runs import index

    seen = dict(resolved)
    for name in resolved:
        if name in selected:
            continue
        rows = index.query_runs(ws, stage=name, status="completed", limit=1)
        if rows:
            seen[name] = index.get_run(ws, rows[0].run_id)["params"]
    return seen


def plan(
    ws: Workspace,
    *,
    stage: str | None = None,
    overrides: list[str] | None = None,
    params_file: Path | None = None,
    typed: tuple[Mapping[str, Any], str] | None = None,
) -> RunPlan:
    """Everything checked before any kernel starts: YAML, stage names, parameter names, types.

    ``typed`` is ``({"stage.key": value}, where)``: typed overrides (a sweep member's),
    applied after ``params_file`` and before ``-p``; an error names ``where``."""
    pipeline = load_pipeline(ws)
    layers = _layered_overrides(pipeline, params_file, overrides or [], typed)
    selected = [pipeline.stage(stage).name] if stage else list(pipeline.order)
    resolved = _resolve(pipeline, layers, {})
    profiled: dict[str, list[tuple[dict[str, Any], str]]] = {s: [] for s in pipeline.order}
    for profile in pipeline.profiles:
        if profile.matches(_as_run(ws, resolved, selected)):
            for name, values in _stage_mapping(pipeline, profile.params_file).items():
                profiled[name].append((values, ws.relative(profile.params_file)))
    if any(profiled.values()):
        resolved = _resolve(pipeline, layers, profiled)
    for name in pipeline.order:
        if name not in selected and layers[name]:
            raise ConfigError(
                f"parameters given for stage {name!r}, which this run does not execute",
                hint=f"add --stage {name} or drop its -p values",
            )
    return RunPlan(pipeline=pipeline, stages=selected, params=resolved)
