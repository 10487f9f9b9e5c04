"""The champion in the registry: find it (verified, loaded) and act on an A/B decision.

Statistics decide (:mod:`nbtrail.practices.abtest`); this is where a decision reaches the
registry: the evaluated model is registered when it passed its gates, and promoted when the
decision says so, with the reason kept in the alias history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbtrail.core.errors import NotFound
from nbtrail.practices import registry
from nbtrail.practices.evaluation import plain
from nbtrail.practices.models import load_model


def find_champion(
    ws: Any, name: str, alias: str = "champion", *, as_of: str | None = None
) -> dict[str, Any] | None:
    """The registry entry holding ``name@alias`` with its loaded ``model`` (artifact hash
    verified, skops allow-list), or None when there is no champion yet.

    ``as_of`` (an ISO time): the version that held the alias then (a reproduction meets the
    champion its original met, not today's)."""
    try:
        if as_of is None:
            entry = registry.resolve(ws, f"{name}@{alias}")
        else:
            version = registry.alias_at(ws, name, alias, as_of)
            if version is None:
                return None
            entry = registry.resolve(ws, f"{name}@{version}")
    except NotFound:
        return None
    registry.verify_artifact(ws, entry)
    return {**entry, "model": load_model(ws.root / entry["artifact_path"])}


def apply_decision(
    ws: Any,
    name: str,
    *,
    decision: Mapping[str, Any],
    artifact_path: Any,
    digest: str,
    run_id: str | None,
    metrics: Mapping[str, Any],
    gates_passed: bool,
    alias: str = "champion",
) -> dict[str, Any]:
    """Register a model that passed its gates (verdict ``passed``) and, when the decision is
    ``promote``, move ``alias`` to it with the decision's reason. A model that failed its
    gates is not registered: the registry keeps the first verdict of a file, and a later
    run with other gates may pass it. Returns what happened."""
    if not gates_passed:
        return {"name": name, "version": None, "registered": False, "promoted": False}
    version = registry.register_model(
        ws,
        name,
        artifact_path=artifact_path,
        digest=digest,
        run_id=run_id,
        metrics=metrics,
        verdict=True,
    )
    out: dict[str, Any] = {"name": name, "version": version, "registered": True, "promoted": False}
    if decision.get("decision") == "promote":
        event = registry.promote(ws, name, version, alias, str(decision.get("reason", "")))
        out.update(promoted=True, event=event)
    return plain(out)
