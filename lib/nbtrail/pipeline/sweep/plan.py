"""A sweep's plan, checked before any worker starts: the spec, the stages each member runs,
the shared upstream prefix run once first, and every value the members may take resolved
against the notebooks' parameters cells (an unknown name or a wrong type is refused, named).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError
from nbtrail.core.workspace import Workspace
from nbtrail.core.yamlio import load_yaml
from nbtrail.pipeline.config import Pipeline
from nbtrail.pipeline.plan import RunPlan, plan
from nbtrail.practices.sweep import Range, SweepSpec, parse_spec


@dataclass(frozen=True)
class SweepPlan:
    spec: SweepSpec
    where: str  # the spec file, relative to the root
    stages: tuple[str, ...]  # what each member runs: the metric's stage and its upstream
    prefix: tuple[str, ...]  # of those, the stages no swept parameter reaches
    notebooks: dict[str, str]  # stage -> its notebook, relative to the root

    def member_values(self, swept: dict[str, Any]) -> dict[str, Any]:
        """A member's ``stage.key`` values: the spec's fixed ``params``, then its swept ones."""
        return {**self.spec.params, **swept}


def load_spec(ws: Workspace, path: Path) -> tuple[SweepSpec, str]:
    """The spec file parsed and checked (a bare name is looked up under ``params/sweeps/``)."""
    if not path.is_file() and not path.suffix:
        path = ws.sweeps_spec_dir / f"{path}.yaml"
    full = path if path.is_absolute() else (Path.cwd() / path)
    if not full.is_file() and (ws.root / path).is_file():
        full = ws.root / path
    where = ws.relative(full)
    return parse_spec(load_yaml(full, ws), name=full.stem, where=where), where


def plan_sweep(ws: Workspace, path: Path) -> SweepPlan:
    """Read the spec and check it against the pipeline and the notebooks, fully, up front."""
    spec, where = load_spec(ws, path)
    base = plan(ws, typed=(spec.params, f"sweep {where}"))
    stages = _member_stages(base, spec, where)
    swept_stages = {k.partition(".")[0] for k in spec.space}
    for s in swept_stages:
        if s not in stages:
            raise ConfigError(
                f"space: stage {s!r} does not lead to the metric {spec.metric!r}", path=where
            )
    reached = {d for s in swept_stages for d in base.pipeline.downstream(s)}
    prefix = tuple(s for s in stages if s not in reached)
    for values in _values_to_check(spec):
        plan(ws, typed=({**spec.params, **values}, f"sweep {where}"))
    notebooks = {s: ws.relative(base.pipeline.stages[s].notebook) for s in stages}
    return SweepPlan(spec=spec, where=where, stages=stages, prefix=prefix, notebooks=notebooks)


def _member_stages(base: RunPlan, spec: SweepSpec, where: str) -> tuple[str, ...]:
    """The metric's stage and every stage it (transitively) needs, in pipeline order; a bare
    metric name means the whole pipeline."""
    pipeline: Pipeline = base.pipeline
    stage = spec.metric_stage
    if stage is None:
        return pipeline.order
    if stage not in pipeline.stages:
        raise ConfigError(
            f"metric {spec.metric!r}: unknown stage {stage!r}",
            path=where,
            hint=f"stages: {', '.join(pipeline.order)}",
        )
    need = {stage}
    for s in reversed(pipeline.order):
        if s in need:
            need.update(pipeline.stages[s].needs)
    return tuple(s for s in pipeline.order if s in need)


def _values_to_check(spec: SweepSpec) -> list[dict[str, Any]]:
    """Values covering every name and type a member may send: each listed value, and both
    ends of each range (one dimension at a time, the others at their first value)."""
    first = {k: (d[0] if isinstance(d, tuple) else d.ends()[0]) for k, d in spec.space.items()}
    out = [first]
    for key, dim in spec.space.items():
        options = list(dim) if isinstance(dim, tuple) else list(dim.ends())
        out += [{**first, key: v} for v in options[1:]]
    return out


def range_or_values(dim: Range | tuple[Any, ...]) -> str:
    """A dimension as a person reads it (for the sweep record)."""
    if isinstance(dim, tuple):
        return ", ".join(map(str, dim))
    scale = " log" if dim.log else (f" step {dim.step}" if dim.step else "")
    return f"{dim.type} {dim.low}..{dim.high}{scale}"
