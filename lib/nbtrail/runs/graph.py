"""A lineage graph: nodes keyed by id and edges ``(src, dst, label)`` meaning *src fed dst*."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HEX = re.compile(r"^[0-9a-f]{8,64}$")  # a content digest or a prefix of one


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
