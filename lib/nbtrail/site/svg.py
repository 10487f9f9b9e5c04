"""Graphs drawn as inline SVG, offline: boxes in layers, edges as curves with arrows.

The layout is the simple layered one a pipeline needs: a node's layer is the longest path
to it from a node with no inputs, nodes keep their given order within a layer (then one
barycentre pass against the layer before, to uncross edges), edges run left to right.
Every label is escaped here; the result is markup (:class:`markupsafe.Markup`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nbtrail.site.escaping import Markup, esc

CHAR_W = 6.6  # px per character at font-size 12 (system sans-serif), for box widths
LINE_H = 16
PAD = 8
GAP_X = 56
GAP_Y = 18
MAX_CHARS = 36


@dataclass(frozen=True)
class Node:
    """One box: its lines of text, colours, an optional link and tooltip."""

    id: str
    lines: Sequence[str]
    fill: str = "#ffffff"
    stroke: str = "#888888"
    href: str | None = None
    tooltip: str = ""
    bold: bool = False
    css: str = ""


@dataclass
class Layout:
    """Where each node sits: its layer and its (x, y, width, height) box."""

    layers: dict[str, int] = field(default_factory=dict)
    boxes: dict[str, tuple[float, float, float, float]] = field(default_factory=dict)
    width: float = 0
    height: float = 0


def clip(text: str, n: int = MAX_CHARS) -> str:
    """``text`` cut to ``n`` characters with an ellipsis."""
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def layers_of(ids: Sequence[str], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layer of each node (0 for nodes nothing points at); cycles cut."""
    incoming: dict[str, list[str]] = {i: [] for i in ids}
    for s, d in edges:
        if s in incoming and d in incoming and s != d:
            incoming[d].append(s)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(n: str) -> int:
        if n in layer:
            return layer[n]
        if n in visiting:  # a cycle: count it as a start
            return 0
        visiting.add(n)
        layer[n] = max((depth(p) + 1 for p in incoming[n]), default=0)
        visiting.discard(n)
        return layer[n]

    for i in ids:
        depth(i)
    return layer


def layout(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> Layout:
    """Positions for ``nodes`` in layers, left to right."""
    ids = [n.id for n in nodes]
    by_id = {n.id: n for n in nodes}
    layer = layers_of(ids, edges)
    columns: dict[int, list[str]] = {}
    for i in ids:
        columns.setdefault(layer[i], []).append(i)
    rank: dict[str, float] = {}
    for c in sorted(columns):
        if c > 0:

            def centre(n: str, c: int = c) -> float:
                ps = [rank[s] for s, d in edges if d == n and s in rank and layer[s] < c]
                return sum(ps) / len(ps) if ps else float(columns[c].index(n))

            columns[c].sort(key=centre)
        for k, n in enumerate(columns[c]):
            rank[n] = float(k)
    width = max(
        (min(max(len(line) for line in n.lines or [""]), MAX_CHARS) for n in nodes), default=8
    )
    box_w = width * CHAR_W + 2 * PAD
    out = Layout(layers=layer)
    x: float = PAD
    for c in sorted(columns):
        y: float = PAD
        for n in columns[c]:
            h = len(by_id[n].lines or [""]) * LINE_H + PAD
            out.boxes[n] = (x, y, box_w, h)
            y += h + GAP_Y
        out.height = max(out.height, y - GAP_Y + PAD)
        x += box_w + GAP_X
    out.width = x - GAP_X + PAD
    return out


def _edge(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> str:
    x1, y1 = a[0] + a[2], a[1] + a[3] / 2
    x2, y2 = b[0], b[1] + b[3] / 2
    if x2 <= x1:  # same or earlier layer: go round below
        x2, y2 = b[0] + b[2] / 2, b[1] + b[3]
        return (
            f"M{x1:.1f},{y1:.1f} C{x1 + 30:.1f},{y1:.1f} {x2:.1f},{y2 + 30:.1f} {x2:.1f},{y2:.1f}"
        )
    mid = (x1 + x2) / 2
    return f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"


def draw(
    nodes: Sequence[Node],
    edges: Sequence[tuple[str, str]],
    *,
    label: str,
    css_class: str,
    marker_id: str,
) -> Markup:
    """The graph as an ``<svg>`` element (every text escaped)."""
    lay = layout(nodes, edges)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{esc(css_class)}" role="img" '
        f'aria-label="{esc(label)}" width="{lay.width:.0f}" height="{lay.height:.0f}" '
        f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}">',
        f"<title>{esc(label)}</title>",
        f'<defs><marker id="{esc(marker_id)}" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>',
    ]
    for s, d in edges:
        if s in lay.boxes and d in lay.boxes and s != d:
            parts.append(
                f'<path class="edge" d="{_edge(lay.boxes[s], lay.boxes[d])}" fill="none" '
                f'stroke="#999" stroke-width="1.4" marker-end="url(#{esc(marker_id)})"/>'
            )
    for n in nodes:
        x, y, w, h = lay.boxes[n.id]
        box = [
            f'<g class="node {esc(n.css)}" data-node="{esc(n.id)}">',
            f"<title>{esc(n.tooltip or ' '.join(n.lines))}</title>",
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
            f'fill="{esc(n.fill)}" stroke="{esc(n.stroke)}" stroke-width="1.5"/>',
        ]
        for k, line in enumerate(n.lines):
            weight = ' font-weight="bold"' if n.bold and k == 0 else ""
            box.append(
                f'<text x="{x + PAD:.1f}" y="{y + PAD / 2 + (k + 1) * LINE_H - 4:.1f}" '
                f'font-size="12"{weight}>{esc(clip(line))}</text>'
            )
        box.append("</g>")
        if n.href:
            box = [f'<a href="{esc(n.href)}">', *box, "</a>"]
        parts += box
    parts.append("</svg>")
    return Markup("".join(parts))


# Fill and stroke of a box by the status of the run it stands for.
STATUS_COLOURS: dict[str, tuple[str, str]] = {
    "completed": ("#dff3e3", "#2e7d32"),
    "cached": ("#e3eefb", "#1565c0"),
    "failed": ("#fde2e1", "#c62828"),
    "interrupted": ("#fff1d6", "#ef6c00"),
    "running": ("#fff8c4", "#f9a825"),
    "never run": ("#f1f1f1", "#9e9e9e"),
}


def status_colours(status: str) -> tuple[str, str]:
    """(fill, stroke) for a run status; grey for anything unknown."""
    return STATUS_COLOURS.get(status, STATUS_COLOURS["never run"])
