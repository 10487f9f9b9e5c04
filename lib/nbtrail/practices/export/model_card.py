"""The model card: intended use, data versions, metrics, slices, tests, checks and lineage,
as Markdown and as HTML with every raw HTML tag escaped."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nbtrail.core.humanize import human


def _cell(v: Any) -> str:
    return human(v, missing="").replace("|", "\\|").replace("\n", " ")


def _predicts(meta: Mapping[str, Any]) -> str:
    if meta.get("task") == "regression" or not meta.get("classes"):
        return "a regression model (one predicted value per row)"
    return f"classes {meta['classes']}"


def _trained(lineage: Mapping[str, Any]) -> str:
    """`` from a model trained <when>`` when the lineage says so (the card carries no export
    time: the same inputs make the same card)."""
    return f" from a model trained {lineage['trained']}" if lineage.get("trained") else ""


def model_card_markdown(meta: Mapping[str, Any], metrics_doc: Mapping[str, Any]) -> str:
    """The model card as Markdown (rendered to HTML by :func:`model_card_html`)."""
    lin = meta.get("lineage") or {}
    lines = [
        f"# Model card: {meta['name']} version {meta['version']}",
        "",
        f"Exported by nbtrail{_trained(lin)}. Model type: `{meta['model_type']}`; "
        f"{_predicts(meta)}; {len(meta['features'])} features.",
        "",
        "## Intended use",
        "",
        meta.get("intended_use") or "(not stated)",
        "",
        "## Data versions",
        "",
    ]
    data_versions = lin.get("data_versions") or []
    lines += [f"- `{_cell(d)}`" for d in data_versions] or ["(not recorded)"]
    lines += ["", "## Metrics (holdout)", "", "| metric | value | CI low | CI high | level |"]
    lines += ["| --- | --- | --- | --- | --- |"]
    for name, m in metrics_doc["metrics"].items():
        lines.append(
            f"| {_cell(name)} | {_cell(m['value'])} | {_cell(m['ci_low'])} | "
            f"{_cell(m['ci_high'])} | {_cell(m['level'])} |"
        )
    lines += ["", "## Slices", ""]
    slices = metrics_doc.get("slices") or []
    if slices:
        keys = list(dict.fromkeys(k for s in slices for k in s))
        first = [k for k in ("column", "slice", "n", "rows") if k in keys]
        cols = first + [k for k in keys if k not in first]
        lines += ["| " + " | ".join(map(_cell, cols)) + " |", "|" + " --- |" * len(cols)]
        lines += ["| " + " | ".join(_cell(s.get(c)) for c in cols) + " |" for s in slices]
    else:
        lines.append("(no slice metrics were recorded)")
    lines += [
        "",
        "## Tests passed",
        "",
        "| test | passed | value | bound |",
        "| --- | --- | --- | --- |",
    ]
    for name, v in sorted((metrics_doc.get("tests") or {}).items()):
        lines.append(
            f"| {_cell(name)} | {'yes' if v.get('passed') else 'NO'} | "
            f"{_cell(v.get('value'))} | {_cell(v.get('bound'))} |"
        )
    par = meta.get("parity") or {}
    lines += [
        "",
        "## Export checks",
        "",
        f"- ONNX Runtime vs scikit-learn on {par.get('rows')} holdout rows: largest "
        f"probability gap {human(par.get('max_abs_diff'))} (tolerance {human(par.get('tolerance'))},"
        f" ONNX inputs {par.get('layout')}, {par.get('input_dtype')}).",
        "- Every file is listed with its SHA-256 in `manifest.json`.",
        "",
        "## Lineage",
        "",
    ]
    for key in ("run_ids", "notebook_hash", "git_commit", "git_dirty", "params"):
        if key in lin:
            val = lin[key]
            if isinstance(val, Mapping):
                lines.append(f"- {key}:")
                lines += [f"  - {_cell(k)}: `{_cell(v)}`" for k, v in sorted(val.items())]
            elif val is None or val == "":
                lines.append(f"- {key}: (not recorded)")
            else:
                lines.append(f"- {key}: `{_cell(val)}`")
    lines += [
        "",
        "## How to load",
        "",
        "```",
        "pip install -r requirements-onnx.txt",
        "python load_bundle.py sample_rows.json          # verify, validate, predict",
        "```",
        "",
        "Or with scikit-learn: `pip install -r requirements-skops.txt`, then "
        "`python load_bundle.py --engine skops sample_rows.json`.",
        "",
    ]
    return "\n".join(lines)


def model_card_html(markdown: str, title: str) -> str:
    """Render the card; raw HTML in any text is escaped, not passed through."""
    from html import escape

    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}"
        "code{background:#f4f4f4}"
    )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{style}</style></head>\n<body>\n{body}</body></html>\n"
    )
