"""Query verbs over the run index: ``runs``, ``show``, ``diff``, ``lineage``, ``impact``,
``index rebuild``; and ``runs push`` / ``runs pull`` (:mod:`nbtrail.runs.sync`). Each handler
calls one function of :mod:`nbtrail.index`, :mod:`nbtrail.lineage` or the sync and prints;
imports are lazy so ``nbtrail --help`` stays fast."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nbtrail.commands.options import graph_formats, size, verb


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "runs",
        help="list runs (filter by stage, status, parameter, metric; sort by a metric)",
        description=(
            "List runs from the index, newest first (or best first with --sort). "
            "A status marked * is an interactive run (from JupyterLab)."
        ),
    )
    p.add_argument("--stage", help="only runs of this stage")
    p.add_argument("--status", choices=["running", "completed", "failed", "interrupted", "cached"])
    p.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="parameter equals (repeat)"
    )
    p.add_argument(
        "--metric",
        action="append",
        default=[],
        metavar="EXPR",
        help="metric filter such as 'roc_auc>0.9' (>, <, >=, <=, =, !=; repeat)",
    )
    p.add_argument("--sweep", metavar="ID", help="only runs a sweep's members executed")
    p.add_argument("--sort", metavar="METRIC", help="sort by this metric, highest first")
    p.add_argument("--asc", action="store_true", help="with --sort: lowest first")
    p.add_argument("--limit", type=int, default=20, help="at most N runs (0: all; default 20)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_runs)
    _sync_verbs(p)

    p = verb(
        subparsers,
        "show",
        _show,
        json="print the whole record as JSON",
        help="show one run's record",
    )
    p.add_argument("run", help="run id, unique prefix, or stage name (its latest run)")
    p = verb(
        subparsers,
        "diff",
        _diff,
        json="print JSON",
        help="compare two runs: parameters, data, code, git, environment, metrics",
    )
    p.add_argument("a", help="run id, prefix or stage name")
    p.add_argument("b", help="run id, prefix or stage name")
    p.add_argument("--all", action="store_true", help="list identical fields too")
    p = verb(
        subparsers,
        "lineage",
        _lineage,
        help="what a run, model, metric or report came from",
        description=(
            "The upstream graph of X down to data versions, parameters, notebook hashes, "
            "git commit and environment. X: a run id (or prefix), a stage name (its latest "
            "run), RUN:OUTPUT or STAGE:METRIC, NAME@VERSION, an artifact digest, or a file "
            "path (a copy elsewhere, such as an exported model, is found by its hash)."
        ),
    )
    p.add_argument("target", metavar="X")
    graph_formats(p)
    p = verb(
        subparsers, "impact", _impact, help="every run and artifact downstream of a data version"
    )
    p.add_argument("dataset", metavar="DATASET@V")
    graph_formats(p)

    p = subparsers.add_parser("index", help="maintain the run index (workspace/index.sqlite)")
    sub = p.add_subparsers(dest="index_command", metavar="ACTION", required=True)
    r = sub.add_parser("rebuild", help="re-derive the index from the run folders")
    r.add_argument(
        "--verify",
        action="store_true",
        help="validate every record against its schema (default: only records changed since "
        "they were last validated; the others get a quick check of the fields the index reads)",
    )
    r.set_defaults(func=_rebuild)
    r = verb(
        sub,
        "problems",
        _problems,
        json="print JSON",
        help="run folders the index could not read, and runs whose files are missing",
    )


def _sync_verbs(runs: argparse.ArgumentParser) -> None:
    """``nbtrail runs push [RUN...]`` and ``nbtrail runs pull [RUN...]`` (without an action,
    ``nbtrail runs`` lists runs)."""
    sub = runs.add_subparsers(dest="runs_command", metavar="{push,pull}", required=False)
    for name, helptext, func, runs_help in (
        (
            "push",
            "send runs (records, notebooks, outputs, registry and monitoring logs) to the remote",
            _push,
            "run ids, prefixes or stage names, with their upstream runs (default: every run)",
        ),
        (
            "pull",
            "fetch the remote's runs, verifying every object; the run cache then reuses them",
            _pull,
            "run ids, with their upstream runs (default: every run the remote holds)",
        ),
    ):
        p = verb(sub, name, func, help=helptext)
        p.add_argument("run", nargs="*", metavar="RUN", help=runs_help)
        p.add_argument(
            "--remote",
            metavar="URL",
            help="folder or s3://bucket/prefix (default: `remote:` in params/pipeline.yaml)",
        )
        p.add_argument("--endpoint-url", help="S3-compatible endpoint (MinIO, moto)")


def _sync_lines(done: str, rep: Any, there: str) -> list[str]:
    lines = [
        f"{done} {rep.url}: {rep.runs_sent} run(s), {rep.objects_sent} object(s) "
        f"({size(rep.bytes_sent)}), {rep.datasets_sent} dataset manifest(s), "
        f"{rep.log_entries} log entr{'y' if rep.log_entries == 1 else 'ies'}; "
        f"already {there}: {rep.runs_present} run(s), {rep.objects_present} object(s)"
    ]
    lines += [f"  not pushed, still running: {r}" for r in rep.skipped]
    lines += [f"  conflict: {c}" for c in rep.conflicts]
    return lines


def _push(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs.sync import push_runs

    rep = push_runs(ws, args.remote, args.run or None, endpoint_url=args.endpoint_url)
    print("\n".join(_sync_lines("pushed to", rep, "there")))
    return 0


def _pull(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs.sync import pull_runs

    rep = pull_runs(ws, args.remote, args.run or None, endpoint_url=args.endpoint_url)
    print("\n".join(_sync_lines("pulled from", rep, "here")))
    return 0


def _warn_problems(ws: Any) -> None:
    from nbtrail.runs import index

    bad = index.problems(ws)
    unlisted = len({p.path for p in bad if not p.listed})
    damaged = len({p.path for p in bad if p.listed})
    if unlisted:
        print(
            f"nbtrail: warning: {unlisted} run folder(s) have an invalid or missing record and "
            "are not listed (see `nbtrail index problems`)",
            file=sys.stderr,
        )
    if damaged:
        print(
            f"nbtrail: warning: {damaged} listed run(s) miss files or have a malformed "
            "notebook (see `nbtrail index problems`)",
            file=sys.stderr,
        )


def _when(ts: str | None) -> str:
    return (ts or "-").replace("T", " ")[:19]


def _metric_text(metrics: dict[str, Any], first: list[str]) -> str:
    names = [n for n in first if n in metrics] + sorted(n for n in metrics if n not in first)
    text = "  ".join(
        f"{n}={metrics[n]:.4g}" if metrics[n] is not None else f"{n}=null" for n in names
    )
    return text if len(text) <= 70 else text[:67] + "..."


def _sweep_id(ws: Any, ref: str | None) -> str | None:
    """``--sweep``: an id, a unique prefix or ``latest``, resolved from the sweep records."""
    if not ref:
        return None
    from nbtrail.practices.sweep import record

    return record.load(ws, ref)["sweep_id"]


def _runs(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import index

    metric_filters = [index.parse_metric_filter(m) for m in args.metric]
    rows = index.query_runs(
        ws,
        stage=args.stage,
        status=args.status,
        params=index.parse_param_filters(args.param),
        metrics=metric_filters,
        sort_by=args.sort,
        ascending=args.asc,
        limit=args.limit or None,
        sweep=_sweep_id(ws, args.sweep),
    )
    if args.json:
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    elif not rows:
        print("no runs match")
    else:
        first = ([args.sort] if args.sort else []) + [m[0] for m in metric_filters]
        width = max(len(r.run_id) for r in rows)
        print(f"{'RUN':<{width}}  {'STATUS':<11}  {'STARTED':<19}  {'SECONDS':>7}  METRICS")
        for r in rows:
            secs = f"{r.duration_s:.1f}" if r.duration_s is not None else "-"
            mark = "*" if r.origin == "interactive" else ""
            print(
                f"{r.run_id:<{width}}  {r.status + mark:<11}  {_when(r.started):<19}  "
                f"{secs:>7}  {_metric_text(r.metrics, first)}"
            )
    _warn_problems(ws)
    return 0


def _show(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import index

    rec = index.get_run(ws, args.run)
    if args.json:
        print(json.dumps(rec, indent=2, sort_keys=True))
        return 0
    nb, git, env = rec["notebook"], rec["git"], rec["environment"]
    lines = [
        f"run:         {rec['run_id']}",
        f"stage:       {rec['stage']} ({rec['origin']})",
        f"status:      {rec['status']}",
        f"started:     {_when(rec['started'])}   ended: {_when(rec.get('ended'))}"
        + (f"   ({rec['duration_s']:.1f} s)" if rec.get("duration_s") is not None else ""),
        f"notebook:    {nb.get('path')}  hash {nb.get('hash', '')[:12]}  "
        f"code {nb.get('code_hash', '')[:12]}",
    ]
    if nb.get("executed"):
        lines.append(f"executed:    {nb['executed']}")
    for key in ("fingerprint", "cached_from", "reproduces"):
        if rec.get(key):
            lines.append(f"{key + ':':<12} {rec[key]}")
    dirty = " (dirty)" if git.get("dirty") else ""
    lines.append(f"git:         {git.get('commit') or '-'}{dirty}")
    lines.append(
        f"environment: python {env.get('python')}  lock {str(env.get('lock_hash') or '-')[:12]}"
    )
    lines.append("params:" + ("" if rec["params"] else " (none)"))
    lines += [f"  {k} = {json.dumps(v)}" for k, v in sorted(rec["params"].items())]
    lines.append("inputs:" + ("" if rec["inputs"] else " (none)"))
    for a in rec["inputs"]:
        src = f" from {a['stage']} {a.get('run_id') or ''}".rstrip() if a.get("stage") else ""
        lines.append(f"  {a['name']} ({a['kind']}) {a.get('ref') or a.get('path') or ''}{src}")
    lines.append("outputs:" + ("" if rec["outputs"] else " (none)"))
    for name, a in sorted(rec["outputs"].items()):
        where = a.get("ref") or a.get("path") or ""
        lines.append(f"  {name} ({a['kind']}) {where}  {a['digest'][:12]}")
    lines.append("metrics:" + ("" if rec["metrics"] else " (none)"))
    lines += [f"  {k} = {v}" for k, v in sorted(rec["metrics"].items())]
    if rec["verdicts"]:
        lines.append("verdicts:")
        for k, v in sorted(rec["verdicts"].items()):
            lines.append(f"  {k}: {'pass' if v['passed'] else 'FAIL'}")
    e = rec.get("error")
    if e:
        lines.append(f"error:       {e['ename']}: {e['evalue']} (cell {e.get('cell')})")
    print("\n".join(lines))
    return 0


def _diff(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import lineage

    d = lineage.diff(ws, args.a, args.b)
    print(json.dumps(d, indent=2) if args.json else lineage.render_diff(d, all_fields=args.all))
    return 0


def _print_graph(graph: Any, args: argparse.Namespace) -> None:
    from nbtrail.runs import lineage

    if args.json:
        print(json.dumps(graph.to_dict(), indent=2))
    elif args.dot:
        print(lineage.render_dot(graph))
    else:
        print(lineage.render_tree(graph))


def _lineage(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import lineage

    _print_graph(lineage.upstream(ws, args.target), args)
    return 0


def _impact(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import lineage

    _print_graph(lineage.impact(ws, args.dataset), args)
    return 0


def _rebuild(args: argparse.Namespace, ws: Any) -> int:
    # The index is a cache of three sources: the run folders (re-read now), the registry's event
    # log and the monitoring history's log (their caches are told to replay their whole log on
    # next use, so this needs none of the practices' modules: monitoring imports pandas).
    from nbtrail.core import applog
    from nbtrail.runs import index

    report = index.rebuild(ws, verify=args.verify)
    applog.forget_all(ws.index_path)
    events = len(applog.read_log(ws.registry_log)[0])
    batches = len(applog.read_log(ws.monitoring_log)[0])
    checked = "validated in full" if args.verify else f"{report.validated:,} validated in full"
    print(f"indexed {report.indexed:,} run(s) into {ws.relative(ws.index_path)} ({checked})")
    print(
        f"{events:,} registry event(s) in {ws.relative(ws.registry_log)} and "
        f"{batches:,} monitoring record(s) in {ws.relative(ws.monitoring_log)}: "
        "replayed from their logs on next use"
    )
    _print_problems(report.problems)
    return 0


def _print_problems(problems: list[Any]) -> None:
    unlisted = [p for p in problems if not p.listed]
    damaged = [p for p in problems if p.listed]
    if unlisted:
        print(f"{len(unlisted)} run folder(s) not indexed (invalid or missing record):")
        for p in unlisted:
            print(f"  {p.path}: {p.problem}")
    if damaged:
        print(f"{len(damaged)} problem(s) with the files of listed runs:")
        for p in damaged:
            print(f"  {p.path}: {p.problem}")


def _problems(args: argparse.Namespace, ws: Any) -> int:
    from nbtrail.runs import index

    index.ensure(ws)
    found = index.problems(ws)
    if args.json:
        print(json.dumps([p.__dict__ for p in found], indent=2))
    elif not found:
        print("no problems: every run folder is indexed and has its files")
    else:
        _print_problems(found)
    return 0
