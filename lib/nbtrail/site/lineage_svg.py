"""A run's lineage (:func:`nbtrail.runs.lineage.upstream`) as a picture: the runs, data
versions and files it came from, left to right, the run itself highlighted; each run box
links to its page when that run is in the site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nbtrail.runs.graph import Graph
from nbtrail.site.escaping import Markup
from nbtrail.site.svg import Node, draw, status_colours


def _short(value: Any, n: int = 12) -> str:
    return str(value)[:n] if value else "-"


def _node(node_id: str, node: dict[str, Any], href_of: Callable[[str], str | None]) -> Node:
    kind = node.get("type")
    if kind == "run":
        if node.get("missing"):
            return Node(id=node_id, lines=["run (record missing)", node["run_id"]])
        fill, stroke = status_colours(str(node.get("status")))
        return Node(
            id=node_id,
            lines=[f"{node['stage']} run", node["run_id"], str(node.get("status"))],
            fill=fill,
            stroke=stroke,
            href=href_of(node["run_id"]),
            bold=True,
            css="run",
        )
    if kind == "data":
        return Node(
            id=node_id,
            lines=[f"data {node.get('ref')}", f"digest {_short(node.get('digest'))}"],
            fill="#f3ecfb",
            stroke="#6a1b9a",
            css="data",
        )
    if kind == "metric":
        return Node(id=node_id, lines=[f"metric {node.get('name')}", str(node.get("value"))])
    return Node(
        id=node_id,
        lines=[f"{node.get('kind')} {node.get('name')}", f"digest {_short(node.get('digest'))}"],
        fill="#fafafa",
        css="artifact",
    )


def lineage_svg(graph: Graph, href_of: Callable[[str], str | None]) -> Markup:
    """The upstream graph of a run as SVG (the target is drawn bold, on the right)."""
    nodes = []
    for node_id, node in graph.nodes.items():
        n = _node(node_id, node, href_of)
        if node_id == graph.target:
            n = Node(
                id=n.id,
                lines=n.lines,
                fill=n.fill,
                stroke="#000000",
                href=None,
                tooltip="this run",
                bold=True,
                css=f"{n.css} target",
            )
        nodes.append(n)
    edges = [(s, d) for s, d, _ in graph.edges]
    return draw(nodes, edges, label="lineage", css_class="lineage", marker_id="lineage-arrow")
