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

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from nbtrail.core import db
from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.graph import HEX as _HEX
from nbtrail.runs.graph import Graph
from nbtrail.runs.record_types import RunRecord
from nbtrail.runs.refs import check_target, shown

_DATA_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*@[0-9]+$")


# Nodes


def _run_node(rec: RunRecord) -> dict[str, Any]:
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


def _artifact_id(art: Mapping[str, Any], producer: str | None) -> str:
    if art.get("kind") == "dataset" and art.get("ref"):
        return f"data:{art['ref']}"
    if producer:
        return f"artifact:{producer}:{art['name']}"
    return f"artifact:{art['digest']}"


def _artifact_node(art: Mapping[str, Any], producer: str | None) -> dict[str, Any]:
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


def _each_once(queue: list[str]) -> Iterator[str]:
    """Run ids taken from the front of ``queue`` (which may grow meanwhile), each once."""
    seen: set[str] = set()
    while queue:
        run_id = queue.pop(0)
        if run_id not in seen:
            seen.add(run_id)
            yield run_id


def _load(ws: Workspace, run_id: str) -> RunRecord | None:
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
            raise NotFound(
                f"no run wrote or read dataset {shown(target)}", hint="see `nbtrail runs`"
            )
        node_id = f"data:{target}"
        graph.target = node_id
        graph.nodes[node_id] = _artifact_node(dict(rows[0]), producer)
        if producer:
            graph.add_edge(f"run:{producer}", node_id, "output")
            return [producer]
        return []
    if ":" in target and not _is_file(Path(target), exists=True):
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
    found_art = _artifact_by_digest_or_path(ws, con, target)
    if found_art is None:
        raise NotFound(
            f"nothing known as {shown(target)}",
            hint="give a run id, STAGE, RUN:OUTPUT, STAGE:METRIC, NAME@VERSION, a digest or a path",
        )
    producer = found_art["run_id"]
    node_id = _artifact_id(found_art, producer)
    graph.target = node_id
    graph.nodes[node_id] = _artifact_node(found_art, producer)
    graph.add_edge(f"run:{producer}", node_id, "output")
    return [producer]


def _is_file(p: Path, *, exists: bool = False) -> bool:
    """``p.is_file()`` (or ``exists()``), False for a name the OS refuses (too long)."""
    try:
        return p.exists() if exists else p.is_file()
    except (OSError, ValueError):
        return False


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
    if _is_file(p):  # a copy elsewhere (an exported model): find it by its content
        from nbtrail.core.hashing import hash_file

        row = con.execute(sql.format("a.digest = ?"), (hash_file(p),)).fetchone()
        if row:
            return dict(row)
    return None


@db.recovering
def upstream(ws: Workspace, target: str) -> Graph:
    """Everything ``target`` came from, down to data versions, parameters, notebook hashes,
    git commit and environment.

    ``target`` is a run id (or unique prefix, or a stage name for its latest run),
    ``RUN:OUTPUT`` or ``STAGE:METRIC``, a dataset version ``NAME@V``, an artifact digest
    (or prefix) or the path of an output file (a copy elsewhere is found by its hash).
    """
    check_target(target)
    index.ensure(ws)
    graph = Graph(target=target, direction="upstream")
    con = index.connect(ws)
    try:
        queue = _resolve_target(ws, con, target, graph)
        for run_id in _each_once(queue):
            rec = _load(ws, run_id)
            rid = f"run:{run_id}"
            if rec is None:
                graph.nodes[rid] = {"type": "run", "run_id": run_id, "missing": True}
                continue
            graph.nodes[rid] = _run_node(rec)
            cached_from = rec.get("cached_from")
            if cached_from:
                graph.add_edge(f"run:{cached_from}", rid, "cached from")
                queue.append(cached_from)
            for entry in rec["inputs"]:
                art: dict[str, Any] = dict(entry)
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


@db.recovering
def impact(ws: Workspace, ref: str) -> Graph:
    """Every run and artifact downstream of the dataset version ``NAME@V``."""
    from nbtrail.data.datasets import Datasets, parse_ref

    name, version = parse_ref(ref)
    index.ensure(ws)
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
        for run_id in _each_once(queue):
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


# Diffs and rendering live beside this module; re-exported for callers of lineage.*
from nbtrail.runs.lineage_render import render_diff, render_dot, render_tree  # noqa: E402
from nbtrail.runs.rundiff import diff  # noqa: E402

__all__ = ["Graph", "diff", "impact", "render_diff", "render_dot", "render_tree", "upstream"]
