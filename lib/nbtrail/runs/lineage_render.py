"""Lineage graphs and run diffs rendered for people: a text tree, Graphviz DOT, a diff table."""

from __future__ import annotations

import json
from typing import Any

from nbtrail.runs.graph import HEX as _HEX
from nbtrail.runs.graph import Graph


def _short(value: Any, n: int = 12) -> str:
    return str(value)[:n] if value else "-"


def _clip(text: str, n: int = 40) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def _fmt_params(params: dict[str, Any]) -> str:
    """Every parameter, long values clipped (``--json`` has them whole)."""
    shown = (f"{k}={_clip(json.dumps(v, default=str))}" for k, v in sorted(params.items()))
    return ", ".join(shown) or "(none)"


def _label(node_id: str, node: dict[str, Any]) -> str:
    t = node["type"]
    if t == "run":
        if node.get("missing"):
            return f"run {node['run_id']} (record missing)"
        extra = f", cached from {node['cached_from']}" if node.get("cached_from") else ""
        return f"run {node['run_id']} [{node['stage']}, {node['status']}, {node['origin']}{extra}]"
    if t == "data":
        return f"data {node['ref']} [dataset {_short(node.get('digest'))}]"
    if t == "metric":
        return f"metric {node['name']} = {node['value']} (run {node['producer']})"
    where = node.get("path") or _short(node.get("digest"))
    return f"{node['kind']} {node['name']} [{where}]"


def _run_details(node: dict[str, Any]) -> list[str]:
    if node.get("missing"):
        return []
    nb, git, env = node["notebook"], node["git"], node["environment"]
    dirty = " (dirty)" if git.get("dirty") else ""
    lines = [
        f"params: {_fmt_params(node['params'])}",
        f"notebook: {nb.get('path')} hash {_short(nb.get('hash'))} code {_short(nb.get('code_hash'))}",
        f"git: {_short(git.get('commit'))}{dirty}",
        f"environment: python {env.get('python')}, lock {_short(env.get('lock_hash'))}",
    ]
    metrics = node.get("metrics") or {}
    if metrics:
        names = sorted(metrics)
        shown = ", ".join(
            f"{k}={metrics[k]:.4g}" if metrics[k] is not None else f"{k}=null" for k in names[:8]
        )
        more = f" (+{len(names) - 8} more)" if len(names) > 8 else ""
        lines.append(f"metrics: {shown}{more}")
    return lines


def render_tree(graph: Graph, *, details: bool | None = None) -> str:
    """The graph as an indented tree from the target (shared nodes shown once).

    Runs list their parameters, notebook, git and environment when ``details`` (by default
    in an upstream graph, where they are the answer; a downstream graph lists runs only).
    """
    if details is None:
        details = graph.direction == "upstream"
    lines: list[str] = []
    seen: set[str] = set()
    adjacency = graph.adjacency()

    def walk(node_id: str, prefix: str, tail: str, label: str | None) -> None:
        node = graph.nodes.get(node_id, {"type": "artifact", "kind": "?", "name": node_id})
        text = _label(node_id, node)
        if label and label not in ("input", "output", "metric"):
            text = f"({label}) {text}"
        if node_id in seen:
            lines.append(f"{prefix}{text} (see above)")
            return
        seen.add(node_id)
        lines.append(f"{prefix}{text}")
        shown = _run_details(node) if details and node["type"] == "run" else []
        kids = adjacency.get(node_id, [])
        entries: list[tuple[str, Any]] = [("detail", d) for d in shown]
        entries += [("node", k) for k in kids]
        for i, (kind, item) in enumerate(entries):
            last = i == len(entries) - 1
            branch = "└── " if last else "├── "
            nxt = tail + ("    " if last else "│   ")
            if kind == "detail":
                lines.append(f"{tail}{branch}{item}")
            else:
                walk(item[0], tail + branch, nxt, item[1])

    walk(graph.target, "", "", None)
    return "\n".join(lines)


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(graph: Graph) -> str:
    """Graphviz DOT: runs as boxes (with their details), data versions as cylinders."""
    shapes = {"run": "box", "data": "cylinder", "artifact": "note", "metric": "ellipse"}
    out = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for node_id, node in graph.nodes.items():
        label = _label(node_id, node)
        if node["type"] == "run":
            label = "\n".join([label, *_run_details(node)])
        attrs = f"shape={shapes.get(node['type'], 'ellipse')}, label={_dot_str(label)}"
        if node_id == graph.target:
            attrs += ", penwidth=2"
        out.append(f"  {_dot_str(node_id)} [{attrs}];")
    for s, d, lab in graph.edges:
        out.append(f"  {_dot_str(s)} -> {_dot_str(d)} [label={_dot_str(lab)}];")
    out.append("}")
    return "\n".join(out)


def render_diff(d: dict[str, Any], *, all_fields: bool = False) -> str:
    """What differs between two runs (identical fields counted, not listed), metrics always."""
    lines = [f"a: {d['a']}", f"b: {d['b']}"]
    sections = ("stage", "params", "inputs", "notebook", "git", "environment", "outputs", "extra")
    for section in sections:
        if section == "extra" and not d[section]:
            continue
        rows = d[section]
        changed = [r for r in rows if not r["same"]]
        same = len(rows) - len(changed)
        shown = rows if all_fields else changed
        head = f"{section}: {len(changed)} differ" + (f", {same} identical" if same else "")
        lines.append(head)
        for r in shown:
            mark = "  " if r["same"] else "≠ "
            lines.append(f"  {mark}{r['field']}: {_val(r['a'])} -> {_val(r['b'])}")
    lines.append("metrics:")
    for r in d["metrics"]:
        delta = f" ({r['delta']:+.4g})" if r.get("delta") is not None else ""
        lines.append(f"  {r['field']}: {_val(r['a'])} -> {_val(r['b'])}{delta}")
    if not d["metrics"]:
        lines.append("  (none)")
    return "\n".join(lines)


def _val(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, str) and len(v) > 24 and _HEX.match(v[:24]):
        return v[:12]
    if isinstance(v, float):
        text = f"{v:.6g}"
        return text if any(c in text for c in ".einfa") else text + ".0"
    return json.dumps(v) if not isinstance(v, str) else v
