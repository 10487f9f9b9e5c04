"""The pipeline definition (``params/pipeline.yaml``) and parameter values (``params/*.yaml``).

    version: 1
    stages:
      train:
        notebook: notebooks/02_train.ipynb   # path from the workspace root
        params: params/train.yaml            # default values (optional)
        needs: [data]                        # stages whose outputs it reads
        inputs: [data/raw.csv]               # extra files it reads (optional)
        outputs: [workspace/out/model.bin]   # extra files it writes (optional)
    profiles:                                # values that hold for one dataset only
      - when: {data.source: "sklearn:breast_cancer"}
        params: params/profiles/breast_cancer.yaml   # {stage: {param: value}}

Every YAML problem is reported with its file and line, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import ConfigError
from nbtrail.core.workspace import Workspace
from nbtrail.core.yamlio import load_yaml, refuse_unknown_keys

_STAGE_KEYS = {"notebook", "params", "needs", "inputs", "outputs", "description"}


@dataclass(frozen=True)
class Stage:
    name: str
    notebook: Path
    params_file: Path | None
    needs: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class Profile:
    """Parameter values applied only when every ``stage.param`` in ``when`` resolves to the
    value given: a dataset's own slices and gates never reach another dataset's runs."""

    when: dict[tuple[str, str], Any]
    params_file: Path

    def matches(self, resolved: dict[str, dict[str, Any]]) -> bool:
        """Whether the resolved parameters meet every condition of ``when``."""
        return all(
            resolved.get(stage, {}).get(param) == value
            for (stage, param), value in self.when.items()
        )


@dataclass(frozen=True)
class Pipeline:
    ws: Workspace
    stages: dict[str, Stage]
    order: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    profiles: tuple[Profile, ...] = ()

    def stage(self, name: str) -> Stage:
        if name not in self.stages:
            raise ConfigError(
                f"unknown stage {name!r}",
                hint=f"stages: {', '.join(self.order)}",
            )
        return self.stages[name]

    def downstream(self, name: str) -> list[str]:
        """``name`` and every stage that (transitively) needs it, in pipeline order."""
        hit = {name}
        for s in self.order:
            if set(self.stages[s].needs) & hit:
                hit.add(s)
        return [s for s in self.order if s in hit]

    def defaults(self, name: str) -> dict[str, Any]:
        """The values in the stage's params file (empty when it has none)."""
        st = self.stage(name)
        if st.params_file is None:
            return {}
        data = load_yaml(st.params_file, self.ws)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(
                "expected a mapping of parameter names to values",
                path=self.ws.relative(st.params_file),
            )
        return data


def _file(ws: Workspace, value: Any, what: str, where: str) -> Path:
    """The existing file ``value`` names (a path from the workspace root), else ConfigError."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise ConfigError(f"{what} must be a path from the workspace root", path=where)
    path = ws.root / value
    try:
        found = path.is_file()
    except OSError:
        found = False
    if not found:
        raise ConfigError(f"{what} {value} not found", path=where)
    return path


def _str_list(value: Any, what: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what} must be a list of names", path=where)
    return tuple(value)


def load_pipeline(ws: Workspace) -> Pipeline:
    """Read and check ``params/pipeline.yaml``: known keys, files exist, needs in order, no cycles."""
    where = ws.relative(ws.pipeline_file)
    data = load_yaml(ws.pipeline_file, ws)
    if not isinstance(data, dict) or not isinstance(data.get("stages"), dict):
        raise ConfigError("expected a mapping with a 'stages' mapping", path=where)
    stages: dict[str, Stage] = {}
    for name, spec in data["stages"].items():
        if not isinstance(name, str) or not name.replace("_", "a").isalnum() or not name.islower():
            raise ConfigError(
                f"stage name {name!r} must be lower-case letters, digits, _", path=where
            )
        if not isinstance(spec, dict) or "notebook" not in spec:
            raise ConfigError(f"stage {name!r} needs a 'notebook'", path=where)
        refuse_unknown_keys(spec, _STAGE_KEYS, what=f"stage {name!r}", where=where)
        nb = _file(ws, spec["notebook"], f"stage {name!r}: notebook", where)
        pf = (
            _file(ws, spec["params"], f"stage {name!r}: params file", where)
            if spec.get("params")
            else None
        )
        needs = _str_list(spec.get("needs"), f"stage {name!r}: needs", where)
        for n in needs:
            if n not in stages:
                raise ConfigError(
                    f"stage {name!r} needs {n!r}, which is not declared before it", path=where
                )
        stages[name] = Stage(
            name=name,
            notebook=nb,
            params_file=pf,
            needs=needs,
            inputs=_str_list(spec.get("inputs"), f"stage {name!r}: inputs", where),
            outputs=_str_list(spec.get("outputs"), f"stage {name!r}: outputs", where),
            description=str(spec.get("description", "")),
        )
    settings = {k: v for k, v in data.items() if k not in {"stages", "version", "profiles"}}
    profiles = _profiles(ws, data.get("profiles"), stages, where)
    return Pipeline(ws=ws, stages=stages, order=tuple(stages), settings=settings, profiles=profiles)


def _profiles(
    ws: Workspace, spec: Any, stages: dict[str, Stage], where: str
) -> tuple[Profile, ...]:
    if spec is None:
        return ()
    if not isinstance(spec, list):
        raise ConfigError("profiles must be a list of {when, params} mappings", path=where)
    out = []
    for i, item in enumerate(spec):
        what = f"profiles[{i}]"
        if not isinstance(item, dict) or set(item) != {"when", "params"}:
            raise ConfigError(f"{what} needs exactly 'when' and 'params'", path=where)
        if not isinstance(item["when"], dict) or not item["when"]:
            raise ConfigError(f"{what}.when must map STAGE.PARAM to a value", path=where)
        when: dict[tuple[str, str], Any] = {}
        for key, value in item["when"].items():
            stage, dot, param = str(key).partition(".")
            if not dot or stage not in stages or not param:
                raise ConfigError(
                    f"{what}.when: {key!r} must be STAGE.PARAM of a declared stage", path=where
                )
            when[(stage, param)] = value
        pf = _file(ws, item["params"], f"{what}: params file", where)
        out.append(Profile(when=when, params_file=pf))
    return tuple(out)
