"""A notebook's ``parameters`` cell as a contract: names, default values and types.

papermill only warns on an unknown parameter and guesses types of CLI strings; nbtrail
refuses both before any kernel starts, and says which names are valid.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nbtrail.core.errors import ConfigError, ParameterError
from nbtrail.pipeline.kinds import KINDS, check_kind, check_plain

_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list": list, "dict": dict}


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    type: str  # int, float, str, bool, list, dict or any (default None, no annotation)
    kind: str | None = None  # a name-kind (``"DatasetName"``...): see nbtrail.pipeline.kinds


def as_recorded(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` exactly as the run record keeps them: JSON values, every mapping's keys in
    sorted order (records are written with sorted keys).

    The runner injects these, so a run sees the same objects, in the same order, as its
    reproduction (which injects them from the record): a gates mapping read from YAML in
    file order and re-read from the record in sorted order made ``evaluation.json`` list the
    gates in another order, and the evaluate stage not reproduce."""
    out: dict[str, Any] = json.loads(json.dumps(params, sort_keys=True, default=str))
    return out


def read_notebook(path: Path) -> dict[str, Any]:
    """The notebook JSON (nbformat 4), without the cost of importing nbformat."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read notebook: {exc}", path=str(path)) from None


def parameters_cell(nb: dict[str, Any]) -> tuple[int, str] | None:
    for i, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            src = cell.get("source", "")
            return i, "".join(src) if isinstance(src, list) else src
    return None


def declared(path: Path) -> dict[str, Param]:
    """The parameters a notebook declares in its cell tagged ``parameters``."""
    nb = read_notebook(path)
    found = parameters_cell(nb)
    if found is None:
        return {}
    _, source = found
    return declared_in(source, str(path))


def declared_in(source: str, path: str = "parameters cell") -> dict[str, Param]:
    """The parameters a cell's ``source`` declares; a cell that does not parse is a
    :class:`ConfigError` naming ``path`` and the line."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ConfigError(f"parameters cell: {exc.msg}", path=path, line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes; nesting too deep
        raise ConfigError(f"parameters cell: {type(exc).__name__}: {exc}", path=path) from None
    out: dict[str, Param] = {}
    for target, value, ann in _assignments(tree):
        try:
            default = ast.literal_eval(value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            default = None  # not a literal (a call, a name, `{[]: 1}`): no default to check
        type_, kind = _type_of(default), None
        if isinstance(ann, ast.Name) and ann.id in _TYPES:
            type_ = ann.id
        elif isinstance(ann, ast.Name) and ann.id in ("Any", "object"):
            type_ = "any"  # e.g. `slices: Any = "auto"`, which may also be a mapping
        elif isinstance(ann, ast.Constant) and ann.value in KINDS:
            type_, kind = "str", str(ann.value)  # `dataset_name: "DatasetName" = None`
        out[target.id] = Param(target.id, default, type_, kind)
    return out


def _assignments(tree: ast.Module) -> list[tuple[ast.Name, ast.expr, ast.expr | None]]:
    """``name = value`` and ``name: type = value`` at the top of the cell (what papermill
    reads as parameters too)."""
    out: list[tuple[ast.Name, ast.expr, ast.expr | None]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            if isinstance(node.targets[0], ast.Name):
                out.append((node.targets[0], node.value, None))
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            if isinstance(node.target, ast.Name):
                out.append((node.target, node.value, node.annotation))
    return out


def _type_of(value: Any) -> str:
    if value is None:
        return "any"
    for name, t in (("bool", bool), ("int", int), ("float", float), ("str", str)):
        if type(value) is t:
            return name
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return "any"


def coerce(stage: str, param: Param, value: Any, valid: list[str]) -> Any:
    """``value`` checked against the parameter's type; ints widen to float, nothing else."""
    if param.type == "any" or value is None:
        return value
    if param.type == "float" and type(value) is int:
        return float(value)
    if param.type == "list" and isinstance(value, tuple):
        return list(value)
    expected = _TYPES[param.type]
    if type(value) is not expected:
        quote = param.type == "str" and not isinstance(value, (list, dict))
        raise ParameterError(
            f"parameter {param.name!r} expects {param.type}, got {type(value).__name__} "
            f"{_short(value)}",
            stage=stage,
            parameter=param.name,
            hint=f"quote it to pass text: -p '{stage}.{param.name}=\"{value}\"'" if quote else None,
        )
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "..."


def resolve(
    stage: str,
    notebook: Path,
    *layers: dict[str, Any],
    where: list[str] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """Notebook defaults overlaid by each layer in turn, every name and type checked; every
    value one a notebook can be given (:func:`~nbtrail.pipeline.kinds.check_plain`) and, with
    the workspace ``root``, every name-kind value checked as the data layer would."""
    decl = declared(notebook)
    valid = sorted(decl)
    values = {name: p.default for name, p in decl.items()}
    for i, layer in enumerate(layers):
        for key, value in layer.items():
            head, dot, item = key.partition(".")
            if dot and head in decl and isinstance(values[head], dict) and item:
                # `-p evaluate.gates.min_roc_auc=0.9` sets one entry of a mapping parameter
                values[head] = {**values[head], item: value}
                continue
            if key not in decl:
                src = f" (from {where[i]})" if where and i < len(where) and where[i] else ""
                raise ParameterError(
                    f"unknown parameter {key!r}{src}", stage=stage, parameter=key, valid=valid
                )
            values[key] = coerce(stage, decl[key], value, valid)
    for name, value in values.items():
        check_plain(stage, name, value)
        kind = decl[name].kind
        if kind is not None and root is not None:
            check_kind(stage, name, kind, value, root)
    return values


def parse_override(text: str) -> tuple[str, str, Any]:
    """``stage.key=value`` -> (stage, key, YAML-typed value); ``stage.key.item=value`` sets
    one entry of a mapping parameter (the key comes back as ``key.item``)."""
    lhs, sep, rhs = text.partition("=")
    stage, dot, key = lhs.strip().partition(".")
    if not sep or not dot or not stage or not key:
        raise ParameterError(
            f"bad override {text!r}", hint="write -p STAGE.NAME=VALUE, e.g. -p train.max_depth=4"
        )
    try:
        value = yaml.safe_load(rhs) if rhs.strip() else ""
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError):
        value = rhs  # not YAML (or a date like 2026-02-30): the text itself
    return stage, key, value


def format_value(value: Any) -> str:
    """``value`` as ``-p`` text that :func:`parse_override` reads back as ``value`` (YAML
    flow style: a string that YAML would read as something else comes out quoted)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1 << 30, allow_unicode=True)
    text = text.removesuffix("\n").removesuffix("\n...")
    if parse_override(f"s.k={text}")[2] == value:
        return text
    # PyYAML's own quoting loses some characters (NEL, line separators): spell them out
    if isinstance(value, str):
        return '"' + "".join(_escaped(ch) for ch in value) + '"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{format_value(k)}: {format_value(v)}" for k, v in value.items()) + "}"
        )
    return text


def _escaped(ch: str) -> str:
    """One character inside a YAML double-quoted string."""
    if ch in '"\\':
        return "\\" + ch
    if ch.isprintable() and ch not in "\x85\u2028\u2029\ufeff":
        return ch
    code = ord(ch)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def format_override(stage: str, key: str, value: Any) -> str:
    """``STAGE.KEY=VALUE`` for ``-p``, the value written by :func:`format_value`."""
    return f"{stage}.{key}={format_value(value)}"
