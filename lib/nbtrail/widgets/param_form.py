"""``params``'s view logic: a stage's parameters as form fields, and the form's values checked
as ``nbtrail run -p`` checks them.

A field's value is what a run would use now (notebook default < ``params/<stage>.yaml`` <
a matching profile), its type is the parameters cell's, and its choices are the ones the
cell's comment lists (``split = "random"  # "random" ... or "time" ...``). What the form
sends is ``-p STAGE.NAME=VALUE`` text for every changed field (the value read as YAML, as on
the command line) and is checked by :func:`nbtrail.pipeline.plan.plan`, so a bad value is
refused with the CLI's own message.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass
from typing import Any

from nbtrail.core.workspace import Workspace
from nbtrail.pipeline import parameters
from nbtrail.pipeline.config import load_pipeline
from nbtrail.pipeline.plan import RunPlan, plan

_QUOTED = re.compile(r"""["']([^"'\s]+)["']""")
_LISTED = re.compile(r"^\s*([\w.-]+(?:\s*,\s*[\w.-]+)+)")


@dataclass(frozen=True)
class Field:
    """One parameter as the form shows it."""

    name: str
    type: str  # the parameters cell's: int, float, str, bool, list, dict or any
    value: Any  # what a run would use now
    source: str  # where that value comes from
    comment: str = ""
    choices: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """The value as the form's text box holds it: a string as is, anything else as JSON
        (which YAML reads back)."""
        return self.value if isinstance(self.value, str) else json.dumps(self.value)


def comments(source: str) -> dict[int, str]:
    """Line number -> the comment on that line of a cell's source."""
    out: dict[int, str] = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                out[tok.start[0]] = tok.string.lstrip("#").strip()
    except (tokenize.TokenError, SyntaxError):
        pass
    return out


def choices(comment: str, default: Any) -> tuple[str, ...]:
    """The values a comment lists for a string parameter, when it lists the default among
    at least two: quoted words (``"random" ... or "time"``) or a leading comma list
    (``logistic_regression, hist_gradient_boosting, random_forest``)."""
    if not isinstance(default, str):
        return ()
    quoted = tuple(dict.fromkeys(_QUOTED.findall(comment)))
    listed = _LISTED.match(comment)
    for found in (quoted, tuple(x.strip() for x in listed.group(1).split(",")) if listed else ()):
        if len(found) >= 2 and default in found:
            return found
    return ()


def _cell_comments(notebook: Any) -> dict[str, str]:
    """Parameter name -> the comment on the line it is assigned."""
    import ast

    found = parameters.parameters_cell(parameters.read_notebook(notebook))
    if found is None:
        return {}
    _, source = found
    by_line = comments(source)
    out = {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if isinstance(target, ast.Name) and node.lineno in by_line:
            out[target.id] = by_line[node.lineno]
    return out


def fields(ws: Workspace, stage: str) -> list[Field]:
    """The stage's parameters in the cell's order, with the values a run would use now."""
    pipeline = load_pipeline(ws)
    st = pipeline.stage(stage)
    declared = parameters.declared(st.notebook)
    resolved = plan(ws, stage=stage).params[stage]
    from_file = pipeline.defaults(stage)
    notes = _cell_comments(st.notebook)
    where = ws.relative(st.params_file) if st.params_file else ""
    out = []
    for name, p in declared.items():
        value = resolved.get(name, p.default)
        if name in from_file and value == from_file[name]:
            source = where
        elif value == p.default:
            source = "notebook"
        else:
            source = "profile"
        note = notes.get(name, "")
        out.append(Field(name, p.type, value, source, note, choices(note, value)))
    return out


def overrides(stage: str, form: list[Field], texts: dict[str, str], extra: str = "") -> list[str]:
    """The ``-p`` texts of a filled form: every field whose text changed, then each line of
    ``extra`` (``NAME=VALUE`` or ``NAME.KEY=VALUE``)."""
    out = [f"{stage}.{f.name}={texts[f.name]}" for f in form if texts.get(f.name, f.text) != f.text]
    out += [f"{stage}.{line.strip()}" for line in extra.splitlines() if line.strip()]
    return out


def check(ws: Workspace, stage: str, given: list[str]) -> RunPlan:
    """The plan ``nbtrail run --stage STAGE -p ...`` would make (ParameterError or ConfigError
    with the CLI's message when a value is refused)."""
    return plan(ws, stage=stage, overrides=given)
