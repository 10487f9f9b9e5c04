"""Re-execute a recorded run from its record and say whether it came out the same.

The new run uses the original's parameters, its upstream runs (so the same data versions
and models, which are immutable), and the copy of the notebook kept in its run folder, so
later edits to the notebook do not leak in. Metrics are compared exactly, outputs by content
hash. An output that its record declares ``reproducible: false`` (with a ``reason``: a plot of
the workspace's monitoring history, which grows with every run) is reported as expected to
differ, with that reason, and does not make the run "not identical".

The kernel starts with the original's thread settings (``environment.threads``): the
thread-pool variables it had, and none it did not have, whatever the shell running
``reproduce`` sets; a model that stores its thread count then comes out the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nbtrail.core import provenance
from nbtrail.core.errors import NotFound
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline.config import load_pipeline
from nbtrail.pipeline.runner import Runner
from nbtrail.runs import records
from nbtrail.runs.record_types import Artifact, RunRecord, Threads
from nbtrail.runs.runfolder import SOURCE_COPY


@dataclass(frozen=True)
class OutputComparison:
    """One output of the original run beside the reproduction's: digests, whether they match,
    and, for an output declared ``reproducible: false``, why it may differ."""

    name: str
    original: str | None  # digest (None: the run had no such output)
    reproduced: str | None
    same: bool
    expected_reason: str | None = None  # set when the output is declared not reproducible

    @property
    def expected_to_differ(self) -> bool:
        """Differs, and was declared to (by design)."""
        return not self.same and self.expected_reason is not None

    @property
    def ok(self) -> bool:
        """Same, or different as declared."""
        return self.same or self.expected_to_differ


@dataclass
class Reproduction:
    original: RunRecord
    new: RunRecord
    metrics: list[tuple[str, Any, Any, bool]] = field(default_factory=list)
    outputs: list[OutputComparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Every metric equal and every output the same, but for outputs declared to differ."""
        return all(m[3] for m in self.metrics) and all(o.ok for o in self.outputs)

    @property
    def expected_differences(self) -> list[OutputComparison]:
        """The outputs that differ as their records declared they would."""
        return [o for o in self.outputs if o.expected_to_differ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original["run_id"],
            "reproduction": self.new["run_id"],
            "identical": self.identical,
            "metrics": [
                {"name": n, "original": a, "reproduced": b, "same": s}
                for n, a, b, s in self.metrics
            ],
            "outputs": [
                {
                    "name": o.name,
                    "original": o.original,
                    "reproduced": o.reproduced,
                    "same": o.same,
                    "expected_to_differ": o.expected_to_differ,
                    **({"reason": o.expected_reason} if o.expected_to_differ else {}),
                }
                for o in self.outputs
            ],
            "notes": self.notes,
        }


def reproduce(
    ws: Workspace, run_id: str, *, on_event: Callable[[str], None] | None = None
) -> Reproduction:
    from nbtrail.runs import index

    run_id = index.resolve_run_id(ws, run_id)
    original = records.load(ws, run_id)
    if original["status"] != "completed":
        raise NotFound(
            f"run {run_id} is {original['status']}, not completed: nothing to reproduce",
            hint="pick a completed run from `nbtrail runs`",
        )
    source = ws.run_dir(run_id) / SOURCE_COPY
    if not source.is_file():
        raise NotFound(f"run {run_id} kept no copy of its notebook ({SOURCE_COPY})")
    pipeline = load_pipeline(ws)
    stage = pipeline.stage(original["stage"])
    upstream = {s: records.load(ws, rid) for s, rid in original["upstream"].items()}
    recorded = original["environment"].get("threads")
    settings = provenance.thread_settings(recorded) if recorded else {}
    runner = Runner(ws, origin="reproduce", on_event=on_event, kernel_env=settings)
    try:
        new = runner.execute_stage(
            stage,
            original["params"],
            upstream,
            original.get("fingerprint"),
            reproduces=run_id,
            source=source,
        )
    finally:
        runner.close()
    rep = Reproduction(original=original, new=new)
    was, now = original.get("extra", {}).get("code_tree"), new["extra"].get("code_tree")
    if was and now and was != now:
        rep.notes.append(
            "the local library code (lib/, notebooks/*.py) changed since the original run"
        )
    if original["environment"].get("lock_hash") != new["environment"].get("lock_hash"):
        rep.notes.append("the environment lock (requirements.lock) changed since the original run")
    rep.notes += thread_notes(recorded, new["environment"].get("threads"))
    for name in sorted(set(original["metrics"]) | set(new["metrics"])):
        was_value, now_value = original["metrics"].get(name), new["metrics"].get(name)
        rep.metrics.append((name, was_value, now_value, was_value == now_value))
    for name in sorted(set(original["outputs"]) | set(new["outputs"])):
        rep.outputs.append(
            compare_output(name, original["outputs"].get(name), new["outputs"].get(name))
        )
    return rep


def thread_notes(recorded: Threads | None, now: Threads | None) -> list[str]:
    """What a reader should know of the thread settings the reproduction ran with."""
    if recorded is None:
        return [
            "the original run's record is older than its thread settings: the reproduction"
            " ran with this shell's (OMP_NUM_THREADS and the like)"
        ]
    notes = []
    shell = {v: os.environ[v] for v in provenance.THREAD_VARS if os.environ.get(v)}
    if shell != recorded["env"]:
        notes.append(
            f"ran with the original's thread settings: {_vars(recorded['env'])}"
            f" (this shell has {_vars(shell)})"
        )
    cpus_then, cpus_now = recorded.get("cpus"), now["cpus"] if now else None
    if "OMP_NUM_THREADS" not in recorded["env"] and cpus_then != cpus_now:
        notes.append(
            f"the original ran on {cpus_then} CPUs without OMP_NUM_THREADS, this one on"
            f" {cpus_now}: a model that stores its thread count (scikit-learn's"
            " HistGradientBoosting does) differs; set OMP_NUM_THREADS for the runs you want"
            " to reproduce on any machine"
        )
    return notes


def _vars(env: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none set"


def compare_output(
    name: str, original: Artifact | None, reproduced: Artifact | None
) -> OutputComparison:
    """``name`` in the original run and in its reproduction, by digest.

    The output may differ when either record declares it ``reproducible: false`` (the
    reproduction's declaration counts: it comes from today's library, which may know better
    than an older run's); an output that one run has and the other lacks always differs.
    """
    a, b = _digest(original), _digest(reproduced)
    reason = None
    if original is not None and reproduced is not None:
        reason = _declared_reason(reproduced) or _declared_reason(original)
    return OutputComparison(name, a, b, a == b, reason)


def _declared_reason(art: Artifact) -> str | None:
    if art.get("reproducible", True) is not False:
        return None
    return art.get("reason") or "declared not reproducible (no reason recorded)"


def _digest(art: Artifact | None) -> str | None:
    return art["digest"] if art else None
