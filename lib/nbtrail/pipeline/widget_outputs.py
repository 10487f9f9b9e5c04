"""Widget outputs of an executed notebook kept as their static rendering.

A widget from :mod:`nbtrail.widgets` displays a bundle holding both the live widget view
(``application/vnd.jupyter.widget-view+json``) and a static rendering of its state (a
``text/html`` table or picture), marked ``STATIC_MARK`` in the output's metadata. Once the
notebook has run there is no kernel behind the widget, and a saved widget view either shows
"Error displaying widget: model not found" (JupyterLab, without saved state) or makes
nbconvert load the widget manager from a CDN (with saved state). So the runner keeps only the
static rendering of those outputs, and the saved widget state of the models nothing else shows.
Other widget outputs (a progress bar from another library) are left as they are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from nbtrail.core import atomic

STATIC_MARK = "nbtrail_static"  # output metadata key: the bundle carries a static rendering
VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
_REF = "IPY_MODEL_"


def _outputs(nb: Any) -> Iterator[Any]:
    for cell in nb.get("cells", []):
        yield from cell.get("outputs", []) if cell.get("cell_type") == "code" else ()


def _reachable(models: dict[str, Any], roots: set[str]) -> set[str]:
    """The models ``roots`` refer to (children, layouts, styles), transitively."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.add(mid)
        todo += [r for r in _refs(models.get(mid, {}).get("state", {})) if r not in seen]
    return seen


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith(_REF):
        yield value[len(_REF) :]
    elif isinstance(value, dict):
        for v in value.values():
            yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)


def freeze(nb: Any) -> bool:
    """In the notebook ``nb`` (nbformat 4, changed in place): outputs marked ``STATIC_MARK``
    lose their widget view, and the saved state of the models only they showed is dropped
    (all of it when no output shows a widget any more, e.g. a progress bar that replaced
    itself by a line of text). True if anything changed."""
    frozen: set[str] = set()
    live: set[str] = set()
    for out in _outputs(nb):
        data = out.get("data", {})
        if VIEW not in data:
            continue
        model_id = data[VIEW].get("model_id", "")
        if out.get("metadata", {}).get(STATIC_MARK) and len(data) > 1:
            del data[VIEW]
            frozen.add(model_id)
        else:
            live.add(model_id)
    if not live and "widgets" in nb.get("metadata", {}):
        del nb["metadata"]["widgets"]
        return True
    if not frozen:
        return False
    models = nb.get("metadata", {}).get("widgets", {}).get(STATE, {}).get("state", {})
    keep = _reachable(models, live)
    for mid in _reachable(models, frozen) - keep:
        models.pop(mid, None)
    return True


def freeze_widget_outputs(path: str | os.PathLike[str]) -> bool:
    """:func:`freeze` the executed notebook at ``path``, rewriting it only when it changed
    (a notebook without widgets is not even parsed)."""
    import nbformat

    with open(path, encoding="utf-8") as f:
        text = f.read()
    if STATE not in text and STATIC_MARK not in text:
        return False
    nb = nbformat.read(os.fspath(path), as_version=4)
    if not freeze(nb):
        return False
    atomic.write_text(path, nbformat.writes(nb))  # never a half-rewritten notebook
    return True
