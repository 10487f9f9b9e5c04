"""The pipeline as a picture: its stages (``params/pipeline.yaml``) and what each needs,
every stage coloured by the status of its latest run and linked to that run's page."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nbtrail.pipeline.config import Pipeline
from nbtrail.site.escaping import Markup
from nbtrail.site.svg import Node, draw, status_colours


def pipeline_dag(
    pipeline: Pipeline,
    latest: Mapping[str, Mapping[str, Any]],
    href_of: Callable[[str], str | None],
) -> Markup:
    """The DAG as SVG; ``latest[stage]`` is the stage's latest run (``run_id``, ``status``,
    ``started``), ``href_of(run_id)`` the link to its page (None: not published)."""
    nodes = []
    for name in pipeline.order:
        run = latest.get(name)
        status = str(run["status"]) if run else "never run"
        when = str(run.get("started") or "")[:16].replace("T", " ") if run else ""
        fill, stroke = status_colours(status)
        lines = [name, f"{'reused' if status == 'cached' else status}  {when}".strip()]
        desc = pipeline.stages[name].description
        if desc:
            lines.append(desc)
        nodes.append(
            Node(
                id=name,
                lines=lines,
                fill=fill,
                stroke=stroke,
                href=href_of(str(run["run_id"])) if run else None,
                tooltip=f"{name}: {status}" + (f", run {run['run_id']}" if run else ""),
                bold=True,
                css=f"stage status-{status.replace(' ', '-')}",
            )
        )
    edges = [(need, name) for name in pipeline.order for need in pipeline.stages[name].needs]
    return draw(nodes, edges, label="the pipeline", css_class="dag", marker_id="dag-arrow")
