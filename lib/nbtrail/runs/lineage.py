"""Lineage: what produced an artifact (upstream), what a data version fed (impact), how two runs
differ (diff). Rendered as a text tree, JSON or Graphviz DOT.

The walk uses the run index (:mod:`nbtrail.index`) to find producers and consumers of artifacts
by SQL, and reads the few run records on the path from their run folders for the details a
person needs: parameters, notebook and code hashes, git commit and environment.

A graph has nodes keyed by id and edges ``(src, dst, label)`` meaning *src fed dst*:

- ``run:<run_id>``: a stage execution (its params, notebook, git, environment are attributes);
- ``data:<name>@<version>``: a dataset version;
- ``artifact:<run_id>:<name>``: a file a run wrote (model, report, json, bundle);
- ``artifact:<digest>``: an input whose producing run is unknown;
- ``metric:<run_id>:<name>``: a metric a run logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records

_DATA_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*@[0-9]+$")
_HEX = re.compile(r"^[0-9a-f]{8,64}$")


@dataclass
class Graph:
    """Nodes and edges around ``target``; ``direction`` is ``upstream`` or ``downstream``."""

    target: str
    direction: str
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    _edge_set: set[tuple[str, str, str]] = field(default_factory=set, repr=False)

    def add_edge(self, src: str, dst: str, label: str) -> None:
        if (src, dst, label) not in self._edge_set:
            self._edge_set.add((src, dst, label))
            self.edges.append((src, dst, label))

    def adjacency(self) -> dict[str, list[tuple[str, str]]]:
        """For each node, the next nodes away from the target, with the edge label."""
        out: dict[str, list[tuple[str, str]]] = {}
        for s, d, lab in self.edges:
            if self.direction == "upstream":
                out.setdefault(d, []).append((s, lab))
            else:
                out.setdefault(s, []).append((d, lab))
        return out

    def runs(self) -> list[str]:
        return [n["run_id"] for n in self.nodes.values() if n["type"] == "run"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "direction": self.direction,
            "nodes": self.nodes,
            "edges": [{"from": s, "to": d, "label": lab} for s, d, lab in self.edges],
        }


# Nodes


def _run_node(rec: dict[str, Any]) -> dict[str, Any]:
    env = rec["environment"]
    return {
        "type": "run",
        "run_id": rec["run_id"],
        "stage": rec["stage"],
        "status": rec["status"],
        "origin": rec["origin"],
        "started": rec["started"],
        "params": rec["params"],
        "notebook": {k: rec["notebook"].get(k) for k in ("path", "hash", "code_hash")},
        "fingerprint": rec.get("fingerprint"),
        "cached_from": rec.get("cached_from"),
        "git": {"commit": rec["git"].get("commit"), "dirty": rec["git"].get("dirty")},
        "environment": {
            "python": env.get("python"),
            "platform": env.get("platform"),
            "lock_hash": env.get("lock_hash"),
        },
        "metrics": rec["metrics"],
    }


def _artifact_id(art: dict[str, Any], producer: str | None) -> str:
    if art.get("kind") == "dataset" and art.get("ref"):
        return f"data:{art['ref']}"
    if producer:
        return f"artifact:{producer}:{art['name']}"
    return f"artifact:{art['digest']}"


def _artifact_node(art: dict[str, Any], producer: str | None) -> dict[str, Any]:
    node = {k: art.get(k) for k in ("name", "kind", "digest", "ref", "path")}
    node["type"] = "data" if node["kind"] == "dataset" and node["ref"] else "artifact"
    node["producer"] = producer
    return node


# Upstream


def _producer_of(con: Any, art: dict[str, Any]) -> str | None:
    """The run that wrote ``art``: the one it names, else the latest writer of its ref/digest."""
    if art.get("run_id"):
        return art["run_id"]
    if art.get("ref"):
        row = con.execute(
            "SELECT a.run_id FROM run_artifacts a JOIN runs r ON r.run_id = a.run_id"
            " WHERE a.direction = 'out' AND a.ref = ? ORDER BY r.started LIMIT 1",
            (art["ref"],),
        ).fetchone()
        if row:
            return row[0]
        return None
    row = con.execute(
        "SELECT a.run_id FROM run_artifacts a JOIN runs r ON r.run_id = a.run_id"
        " WHERE a.direction = 'out' AND a.digest = ? AND r.status = 'completed'"
        " ORDER BY r.started LIMIT 1",
        (art["digest"],),
    ).fetchone()
    return row[0] if row else None


def _load(ws: Workspace, run_id: str) -> dict[str, Any] | None:
    try:
        return records.load(ws, run_id)
    except (NotFound, ValueError, OSError):
        return None


def _resolve_target(ws: Workspace, con: Any, target: str, graph: Graph) -> list[str]:
    """Add the target node to ``graph``; return the run ids to walk from."""
    if _DATA_REF.match(target):
        producer = _producer_of(con, {"ref": target, "digest": ""})
        rows = con.execute(
            "SELECT name, kind, digest, ref, path FROM run_artifacts WHERE ref = ? LIMIT 1",
            (target,),
        ).fetchall()
        if not rows:
            raise NotFound(f"no run wrote or read dataset {target!r}", hint="see `nbtrail runs`")
        node_id = f"data:{target}"
        graph.target = node_id
        graph.nodes[node_id] = _artifact_node(dict(rows[0]), producer)
        if producer:
            graph.add_edge(f"run:{producer}", node_id, "output")
            return [producer]
        return []
    if ":" in target and not Path(target).exists():
        left, _, name = target.partition(":")
        run_id = index.resolve_run_id(ws, left, ensure_first=False)
        rec = records.load(ws, run_id)
        if name in rec["outputs"]:
            art = rec["outputs"][name]
            node_id = _artifact_id(art, run_id)
            graph.nodes[node_id] = _artifact_node(art, run_id)
            graph.add_edge(f"run:{run_id}", node_id, "output")
        elif name in rec["metrics"]:
            node_id = f"metric:{run_id}:{name}"
            graph.nodes[node_id] = {
                "type": "metric",
                "name": name,
                "value": rec["metrics"][name],
                "producer": run_id,
            }
            graph.add_edge(f"run:{run_id}", node_id, "metric")
        else:
            known = sorted(rec["outputs"]) + sorted(rec["metrics"])
            raise NotFound(
                f"run {run_id} has no output or metric {name!r}",
                hint=f"it has: {', '.join(known) or 'none'}",
            )
        graph.target = node_id
        return [run_id]
    found: str | None
    try:
        found = index.resolve_run_id(ws, target, ensure_first=False)
    except NotFound:
        found = None
    if found:
        run_id = found
        graph.target = f"run:{run_id}"
        return [run_id]
    art = _artifact_by_digest_or_path(ws, con, target)
    if art is None:
        raise NotFound(
            f"nothing known as {target!r}",
            hint="give a run id, STAGE, RUN:OUTPUT, STAGE:METRIC, NAME@VERSION, a digest or a path",
        )
    producer = art["run_id"]
    node_id = _artifact_id(art, producer)
    graph.target = node_id
    graph.nodes[node_id] = _artifact_node(art, producer)
    graph.add_edge(f"run:{producer}", node_id, "output")
    return [producer]


def _artifact_by_digest_or_path(ws: Workspace, con: Any, target: str) -> dict[str, Any] | None:
    sql = (
        "SELECT a.run_id, a.name, a.kind, a.digest, a.ref, a.path FROM run_artifacts a"
        " JOIN runs r ON r.run_id = a.run_id WHERE a.direction = 'out' AND {} "
        " ORDER BY r.status = 'completed' DESC, r.started LIMIT 1"
    )
    if _HEX.match(target):
        row = con.execute(
            sql.format("a.digest >= ? AND a.digest < ?"), (target, target + "g")
        ).fetchone()
        if row:
            return dict(row)
    p = Path(target)
    if not p.is_absolute():
        p = Path.cwd() / p
    rel = ws.relative(p)
    row = con.execute(sql.format("a.path = ?"), (rel,)).fetchone()
    if row:
        return dict(row)
    if p.is_file():  # a copy elsewhere (an exported model): find it by its content
        from nbtrail.core.hashing import hash_file

        row = con.execute(sql.format("a.digest = ?"), (hash_file(p),)).fetchone()
        if row:
            return dict(row)
    return None


def upstream(ws: Workspace, target: str) -> Graph:
    """Everything ``target`` came from, down to data versions, parameters, notebook hashes,
    git commit and environment.

    ``target`` is a run id (or unique prefix, or a stage name for its latest run),
    ``RUN:OUTPUT`` or ``STAGE:METRIC``, a dataset version ``NAME@V``, an artifact digest
    (or prefix) or the path of an output file (a copy elsewhere is found by its hash).
    """
    index.ensure(ws)
    graph = Graph(target=target, direction="upstream")
    con = index.connect(ws)
    try:
        queue = _resolve_target(ws, con, target, graph)
        seen: set[str] = set()
        while queue:
            run_id = queue.pop(0)
            if run_id in seen:
                continue
            seen.add(run_id)
            rec = _load(ws, run_id)
            rid = f"run:{run_id}"
            if rec is None:
                graph.nodes[rid] = {"type": "run", "run_id": run_id, "missing": True}
                continue
            graph.nodes[rid] = _run_node(rec)
            if rec.get("cached_from"):
                graph.add_edge(f"run:{rec['cached_from']}", rid, "cached from")
                queue.append(rec["cached_from"])
            for art in rec["inputs"]:
                art = dict(art)
                if not art.get("run_id") and art.get("stage"):
                    art["run_id"] = rec["upstream"].get(art["stage"])
                producer = _producer_of(con, art)
                aid = _artifact_id(art, producer)
                graph.nodes.setdefault(aid, _artifact_node(art, producer))
                graph.add_edge(aid, rid, "input")
                if producer:
                    graph.add_edge(f"run:{producer}", aid, "output")
                    queue.append(producer)
    finally:
        con.close()
    return graph


# Impact (downstream)


def impact(ws: Workspace, ref: str) -> Graph:
    """Every run and artifact downstream of the dataset version ``NAME@V``."""
    from nbtrail.data.datasets import Datasets, parse_ref

    index.ensure(ws)
    name, version = parse_ref(ref)
    if version is None:
        from nbtrail.core.errors import DataError

        raise DataError(f"give a dataset version, not just a name: {ref!r}", hint=f"{name}@N")
    ref = f"{name}@{version}"
    node_id = f"data:{ref}"
    graph = Graph(target=node_id, direction="downstream")
    con = index.connect(ws)
    try:
        digests = {
            r[0] for r in con.execute("SELECT digest FROM run_artifacts WHERE ref = ?", (ref,))
        }
        try:
            digests.add(Datasets(ws).get(ref).digest)
        except NotFound:
            if not digests:
                raise
        graph.nodes[node_id] = {
            "type": "data",
            "name": name,
            "kind": "dataset",
            "ref": ref,
            "digest": sorted(digests)[0] if len(digests) == 1 else sorted(digests),
        }
        marks = ",".join("?" * len(digests))
        first = con.execute(
            "SELECT run_id FROM run_artifacts WHERE ref = ? AND direction = 'in' UNION"
            f" SELECT run_id FROM run_artifacts WHERE digest IN ({marks}) AND direction = 'in'"
            " ORDER BY run_id",
            (ref, *digests),
        ).fetchall()
        queue: list[str] = []
        for (run_id,) in first:
            graph.add_edge(node_id, f"run:{run_id}", "input")
            queue.append(run_id)
        seen: set[str] = set()
        while queue:
            run_id = queue.pop(0)
            if run_id in seen:
                continue
            seen.add(run_id)
            rid = f"run:{run_id}"
            rec = _load(ws, run_id)
            graph.nodes[rid] = (
                _run_node(rec) if rec else {"type": "run", "run_id": run_id, "missing": True}
            )
            outs = {
                r["name"]: dict(r)
                for r in con.execute(
                    "SELECT name, kind, digest, ref, path FROM run_artifacts"
                    " WHERE run_id = ? AND direction = 'out' ORDER BY name",
                    (run_id,),
                )
            }
            by_digest = {}
            for art in outs.values():
                aid = _artifact_id(art, run_id)
                graph.nodes.setdefault(aid, _artifact_node(art, run_id))
                graph.add_edge(rid, aid, "output")
                by_digest[art["digest"]] = aid
            # two indexed lookups (an OR across columns would scan the table)
            consumers = con.execute(
                "SELECT run_id, name, digest FROM run_artifacts"
                " WHERE src_run_id = ? AND direction = 'in'"
                " UNION SELECT run_id, name, digest FROM run_artifacts"
                " WHERE digest IN ({}) AND src_run_id IS NULL AND direction = 'in'"
                " ORDER BY run_id".format(",".join("?" * len(by_digest))),
                (run_id, *by_digest),
            ).fetchall()
            for c in consumers:
                src = by_digest.get(c["digest"]) or (
                    _artifact_id(outs[c["name"]], run_id) if c["name"] in outs else rid
                )
                graph.add_edge(src, f"run:{c['run_id']}", "input")
                queue.append(c["run_id"])
            for (copy,) in con.execute(
                "SELECT run_id FROM runs WHERE cached_from = ? ORDER BY run_id", (run_id,)
            ):
                graph.add_edge(rid, f"run:{copy}", "cached as")
                queue.append(copy)
    finally:
        con.close()
    return graph


# Diff


def _pair(a: Any, b: Any, field_name: str) -> dict[str, Any]:
    return {"field": field_name, "a": a, "b": b, "same": a == b}


def _data_inputs(rec: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for art in rec["inputs"]:
        key = f"{art['stage']}.{art['name']}" if art.get("stage") else art["name"]
        out[key] = (art.get("ref") or art["digest"]) if art["kind"] == "dataset" else art["digest"]
    return out


def diff(ws: Workspace, a: str, b: str) -> dict[str, Any]:
    """Two runs side by side: parameters, data versions and inputs, notebook and code hashes
    (and the fingerprint covering the local modules), git commit, environment, outputs, the
    records' ``extra`` entries, and metrics with deltas (``b - a``)."""
    index.ensure(ws)
    ra = records.load(ws, index.resolve_run_id(ws, a, ensure_first=False))
    rb = records.load(ws, index.resolve_run_id(ws, b, ensure_first=False))

    def keyed(da: dict[str, Any], db: dict[str, Any]) -> list[dict[str, Any]]:
        return [_pair(da.get(k), db.get(k), k) for k in sorted(da.keys() | db.keys())]

    metrics = []
    for k in sorted(ra["metrics"].keys() | rb["metrics"].keys()):
        va, vb = ra["metrics"].get(k), rb["metrics"].get(k)
        row = _pair(va, vb, k)
        row["delta"] = (
            vb - va if isinstance(va, int | float) and isinstance(vb, int | float) else None
        )
        metrics.append(row)
    ea, eb = ra["environment"], rb["environment"]
    pa, pb = ea.get("packages", {}), eb.get("packages", {})
    return {
        "a": ra["run_id"],
        "b": rb["run_id"],
        "stage": [_pair(ra["stage"], rb["stage"], "stage")],
        "params": keyed(ra["params"], rb["params"]),
        "inputs": keyed(_data_inputs(ra), _data_inputs(rb)),
        "notebook": [
            _pair(ra["notebook"].get(k), rb["notebook"].get(k), k)
            for k in ("path", "hash", "code_hash")
        ]
        + [_pair(ra.get("fingerprint"), rb.get("fingerprint"), "fingerprint")],
        "git": [_pair(ra["git"].get(k), rb["git"].get(k), k) for k in ("commit", "dirty")],
        "environment": [_pair(ea.get(k), eb.get(k), k) for k in ("python", "platform", "lock_hash")]
        + [r for r in keyed(pa, pb) if not r["same"]],
        "outputs": keyed(
            {k: v["digest"] for k, v in ra["outputs"].items()},
            {k: v["digest"] for k, v in rb["outputs"].items()},
        ),
        "extra": keyed(ra.get("extra", {}), rb.get("extra", {})),
        "metrics": metrics,
    }


# Rendering


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
