"""The run browser's view logic: filters as a person types them, one page of runs, its table.

Filtering and sorting are the index's (:func:`nbtrail.runs.index.query_page`): the same rules
as ``nbtrail runs --stage --status --param --metric --sort``, answered in SQL, so a redraw
over 10,000 runs reads a count and one page, never every record.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypedDict

from nbtrail.core.errors import NbtrailError
from nbtrail.core.humanize import human
from nbtrail.core.workspace import Workspace
from nbtrail.runs import index, records
from nbtrail.runs.index import RunPage, RunRow
from nbtrail.widgets import html as h

STATUSES = ("completed", "failed", "interrupted", "running", "cached")
METRIC_COLUMNS = 4
PARAM_COLUMNS = 3


def split_terms(text: str) -> tuple[str, ...]:
    """``"C=0.5, grid=[1, 2]"`` -> ``("C=0.5", "grid=[1, 2]")``: split on commas, semicolons
    and new lines outside brackets and quotes."""
    terms: list[str] = []
    depth, quote = 0, ""
    current: list[str] = []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth = max(depth - 1, 0)
        elif ch in ",;\n" and depth == 0:
            terms.append("".join(current))
            current = []
            continue
        current.append(ch)
    terms.append("".join(current))
    return tuple(t.strip() for t in terms if t.strip())


class FilterFields(TypedDict, total=False):
    """The browser's fields as keywords (``widgets.runs(status="failed", metrics="auc>0.9")``)."""

    status: str | None
    params: str  # "C=0.5, model=linear"
    metrics: str  # "roc_auc>0.9"
    sort_by: str | None
    ascending: bool
    limit: int


@dataclass(frozen=True)
class RunFilter:
    """What the browser shows: filters (as ``nbtrail runs`` takes them), sort and page size."""

    stage: str | None = None
    status: str | None = None
    params: tuple[str, ...] = ()  # "NAME=VALUE", the value JSON when it parses
    metrics: tuple[str, ...] = ()  # "roc_auc>0.9"
    sort_by: str | None = None  # a metric; None: newest first
    ascending: bool = False
    limit: int = 25

    @classmethod
    def of(
        cls,
        *,
        stage: str | None = None,
        status: str | None = None,
        params: str = "",
        metrics: str = "",
        sort_by: str | None = None,
        ascending: bool = False,
        limit: int = 25,
    ) -> RunFilter:
        """From the browser's fields: empty strings mean "any", the texts are split."""
        return cls(
            stage=stage or None,
            status=status or None,
            params=split_terms(params),
            metrics=split_terms(metrics),
            sort_by=sort_by or None,
            ascending=ascending,
            limit=limit,
        )

    def describe(self) -> str:
        """The filter in words, for the line above the table."""
        parts = [f"stage {self.stage}"] if self.stage else []
        parts += [f"status {self.status}"] if self.status else []
        parts += list(self.params) + list(self.metrics)
        if self.sort_by:
            parts.append(f"by {self.sort_by}, {'lowest' if self.ascending else 'highest'} first")
        else:
            parts.append("newest first")
        return ", ".join(parts)


def page(ws: Workspace, flt: RunFilter) -> RunPage:
    """The runs the filter shows and how many match (a bad filter raises ParameterError,
    with ``nbtrail runs``' message)."""
    return index.query_page(
        ws,
        stage=flt.stage,
        status=flt.status,
        params=index.parse_param_filters(flt.params),
        metrics=[index.parse_metric_filter(m) for m in flt.metrics],
        sort_by=flt.sort_by,
        ascending=flt.ascending,
        limit=flt.limit,
    )


def preferred_metrics(ws: Workspace, rows: list[RunRow]) -> dict[str, list[str]]:
    """Per stage among ``rows``, the metrics its newest run names in its summary
    (``run.summarize``), else its first three: one record read per stage, not per run."""
    out: dict[str, list[str]] = {}
    for r in rows:
        if r.stage in out:
            continue
        try:
            summary = records.load(ws, r.run_id).get("extra", {}).get("summary")
        except NbtrailError:
            summary = None
        named = summary.get("metrics") if isinstance(summary, dict) else None
        out[r.stage] = (
            [str(m) for m in named] if isinstance(named, list) and named else sorted(r.metrics)[:3]
        )
    return out


def _first(flt: RunFilter) -> list[str]:
    """The metrics the filter names: the sort metric, then the filtered ones."""
    names = ([flt.sort_by] if flt.sort_by else []) + [
        index.parse_metric_filter(m)[0] for m in flt.metrics
    ]
    return list(dict.fromkeys(n for n in names if n))


def metric_columns(flt: RunFilter, preferred: list[str], n: int = METRIC_COLUMNS) -> list[str]:
    """The metric columns of a one-stage table: the filter's metrics, then the stage's."""
    chosen = _first(flt)
    return chosen + [m for m in preferred if m not in chosen][: max(n - len(chosen), 0)]


def param_columns(rows: list[RunRow], n: int = PARAM_COLUMNS) -> list[str]:
    """The parameters whose values differ among ``rows`` (the interesting ones), at most n."""
    values: dict[str, set[str]] = {}
    for r in rows:
        for k, v in r.params.items():
            values.setdefault(k, set()).add(json.dumps(v, sort_keys=True, default=str))
    varying = [k for k, vs in values.items() if len(vs) > 1 or any(k not in r.params for r in rows)]
    return sorted(varying)[:n]


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 24 else text[:21] + "..."


def metric_text(r: RunRow, names: list[str], n: int = 3) -> str:
    """``roc_auc=0.97  accuracy=0.96`` for the first ``n`` of ``names`` the run logged."""
    shown = [m for m in names if m in r.metrics][:n]
    return "  ".join(f"{m}={human(r.metrics[m])}" for m in shown)


def table_rows(
    rows: list[RunRow], metrics: list[str] | dict[str, list[str]], params: list[str]
) -> list[list[Any]]:
    """One list of cells per run: id, stage, status (HTML), started, seconds, then a column
    per metric (``metrics`` a list) or one text of each run's own (a dict by stage), then a
    column per parameter."""
    out = []
    for r in rows:
        mark = "*" if r.origin == "interactive" else ""
        cells: list[Any] = [
            r.run_id,
            r.stage,
            h.status(r.status) + mark,
            (r.started or "-").replace("T", " ")[:19],
            None if r.duration_s is None else round(r.duration_s, 1),
        ]
        if isinstance(metrics, dict):
            cells.append(metric_text(r, metrics.get(r.stage, [])))
        else:
            cells += [r.metrics.get(m) for m in metrics]
        cells += [_short(r.params[p]) if p in r.params else None for p in params]
        out.append(cells)
    return out


def table_html(
    result: RunPage,
    flt: RunFilter,
    *,
    preferred: dict[str, list[str]] | None = None,
    selected: tuple[str, ...] = (),
) -> str:
    """The page as an HTML table (selected runs highlighted), under a line saying what it is.
    Runs of one stage get a column per metric and per varying parameter; a mix of stages
    gets each run's key metrics as text. ``preferred``: :func:`preferred_metrics`."""
    if not result.rows:
        return h.para("no runs match" if result.total == 0 and _filtered(flt) else "no runs yet")
    preferred = preferred or {}
    stages = {r.stage for r in result.rows}
    metrics: list[str] | dict[str, list[str]]
    if len(stages) == 1:
        metrics = metric_columns(flt, preferred.get(next(iter(stages)), []))
        params = param_columns(result.rows)
        columns = ["run", "stage", "status", "started", "seconds", *metrics, *params]
    else:
        first = _first(flt)
        metrics = {s: first + [m for m in preferred.get(s, []) if m not in first] for s in stages}
        params = []
        columns = ["run", "stage", "status", "started", "seconds", "key metrics"]
    marked = [i for i, r in enumerate(result.rows) if r.run_id in selected]
    body = h.table(columns, table_rows(result.rows, metrics, params), marked=marked, raw=[2])
    return h.para(summary_line(result, flt), muted=True) + body


def _filtered(flt: RunFilter) -> bool:
    return bool(flt.stage or flt.status or flt.params or flt.metrics)


def summary_line(result: RunPage, flt: RunFilter) -> str:
    """``25 of 1,250 runs (stage evaluate, by roc_auc, highest first)``."""
    shown = len(result.rows)
    count = f"{shown:,} of {result.total:,}" if shown < result.total else f"{result.total:,}"
    return f"{count} run{'s' if result.total != 1 else ''} ({flt.describe()})"


def option_label(r: RunRow, metric: str | None) -> str:
    """A run in the selection list: its id, status and the sort metric."""
    text = f"{r.run_id}  {r.status}"
    if metric and r.metrics.get(metric) is not None:
        text += f"  {metric}={human(r.metrics[metric])}"
    return text


def workspace_line(ws: Workspace) -> str:
    """One line about the workspace: how many runs of which stages, or that there are none."""
    stages = index.stage_names(ws)
    if not stages:
        return (
            f"no runs in {ws.root} yet: run the pipeline (`make run` or `nbtrail run`), "
            "then run this notebook again"
        )
    total = index.query_page(ws, limit=1)
    latest = total.rows[0]
    return (
        f"{total.total:,} runs in {ws.root} (stages {', '.join(stages)}); "
        f"latest {latest.run_id} ({latest.status})"
    )
