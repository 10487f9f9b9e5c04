"""What the pages share: the publish context, links between pages, values as text."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nbtrail.core.humanize import human
from nbtrail.core.workspace import Workspace
from nbtrail.runs.record_types import RunRecord
from nbtrail.site.content import SiteContent
from nbtrail.site.escaping import environment, href
from nbtrail.site.svg import STATUS_COLOURS


@dataclass(frozen=True)
class Site:
    """One publish: the workspace, what it shows, and how."""

    ws: Workspace
    content: SiteContent
    with_code: bool = False

    @property
    def project(self) -> str:
        return self.ws.root.name or "nbtrail"

    def run_page(self, run_id: str) -> str:
        """A run page's path from the site's root."""
        return href("runs", run_id, "index.html")

    def run_href(self, run_id: str | None, root: str) -> str | None:
        """The link to a run's page from a page at ``root`` (None when it is not in the site)."""
        if not run_id or run_id not in self.content.run_ids:
            return None
        return root + self.run_page(run_id)

    def links(self, root: str) -> dict[str, str]:
        """Run id -> link from a page at ``root``, for every run in the site."""
        return {rid: root + self.run_page(rid) for rid in self.content.run_ids}


def render(template: str, site: Site, **context: Any) -> str:
    """A template rendered with what every page needs."""
    base = {
        "project": site.project,
        "colours": [(("reused" if k == "cached" else k), v) for k, v in STATUS_COLOURS.items()],
        "nav": True,
        "current": "",
    }
    return str(environment().get_template(template).render(**{**base, **context}))


def fmt(value: Any) -> str:
    """A value as people read it: numbers humanized, structures as compact JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return human(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def duration(seconds: Any) -> str:
    """``12.3 s``, ``4 min 5 s``; ``-`` when unknown."""
    if not isinstance(seconds, int | float):
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def when(ts: Any) -> str:
    """An ISO time as ``2026-12-03 11:41:26`` (UTC, as recorded)."""
    return str(ts or "")[:19].replace("T", " ") or "-"


def verdict_rows(rec: RunRecord) -> list[dict[str, Any]]:
    """Each verdict as name, passed, and its facts in one line."""
    rows = []
    for name, v in sorted(rec["verdicts"].items()):
        facts = {k: x for k, x in v.items() if k != "passed"}
        if isinstance(facts.get("summary"), str):
            details = facts["summary"]
        elif isinstance(facts.get("detail"), str):
            details = facts["detail"]
        elif "value" in facts and "bound" in facts:
            details = f"{fmt(facts['value'])} {facts.get('op', 'vs')} {fmt(facts['bound'])}"
        else:
            details = ", ".join(f"{k}={fmt(x)}" for k, x in sorted(facts.items()))
        rows.append({"name": name, "passed": bool(v.get("passed")), "details": details})
    return rows
