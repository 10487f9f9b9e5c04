"""The models page: every registered version with its aliases, the history of who held
``champion``, ``production`` and any other alias when, each version's model card, and its
export bundle by file hashes (the bundle's files are not copied)."""

from __future__ import annotations

import json
from typing import Any

from nbtrail.core.manifest import MANIFEST
from nbtrail.site.escaping import href
from nbtrail.site.pages.common import Site, fmt, render, when
from nbtrail.site.writer import SiteWriter

CARD = "model_card.html"


def _bundle(site: Site, name: str, version: int) -> dict[str, Any] | None:
    folder = site.ws.bundle_dir(name, version)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        return None
    return {
        "path": site.ws.relative(folder),
        "algorithm": fmt(manifest.get("algorithm")),
        "files": [
            (f, fmt(v.get("sha256")), fmt(v.get("bytes")))
            for f, v in sorted(files.items())
            if isinstance(v, dict)
        ],
    }


def models_page(site: Site, writer: SiteWriter) -> str:
    """``models.html``; copies each version's model card to ``models/<name>/<version>/``."""
    from nbtrail.practices import registry

    versions = registry.list_versions(site.ws)
    models: dict[str, dict[str, Any]] = {}
    for v in versions:
        m = models.setdefault(v["name"], {"name": v["name"], "versions": [], "events": []})
        card = site.ws.bundle_dir(v["name"], v["version"]) / CARD
        card_href = None
        if card.is_file():
            rel = f"models/{v['name']}/{v['version']}/{CARD}"
            writer.copy(rel, card)
            card_href = href("models", v["name"], str(v["version"]), CARD)
        m["versions"].append(
            {
                "version": v["version"],
                "aliases": ", ".join(v["aliases"]) or "-",
                "verdict": v["verdict"],
                "created": when(v["created"]),
                "run_id": v["run_id"],
                "digest": v["digest"],
                "bundle_digest": v.get("bundle_digest") or "",
                "metrics": [(k, fmt(x)) for k, x in sorted((v.get("metrics") or {}).items())],
                "card": card_href,
                "bundle": _bundle(site, v["name"], v["version"]),
            }
        )
    for name, m in models.items():
        m["events"] = [
            {
                "at": when(e["at"]),
                "alias": e["alias"],
                "from": "-" if e["from_version"] is None else str(e["from_version"]),
                "to": str(e["to_version"]),
                "reason": e["reason"],
            }
            for e in registry.history(site.ws, name)["events"]
        ]
    return render(
        "models.html.j2",
        site,
        title="Models",
        root="",
        current="models.html",
        models=[models[k] for k in sorted(models)],
        links=site.links(""),
    )
