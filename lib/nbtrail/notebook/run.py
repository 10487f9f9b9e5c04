"""The notebook-side API: ``run = nbtrail.start("train", globals())``.

The same notebook works three ways:

* under ``nbtrail run``: the runner made the run folder and passes it to the kernel in
  ``$NBTRAIL_RUN_DIR``; the notebook's inputs are the upstream runs the runner chose, and the
  runner writes the final record from what the notebook saved here;
* under plain ``papermill`` or interactively in JupyterLab: ``start`` makes its own run folder
  (origin ``interactive``), reads its inputs from the latest completed upstream runs, and
  keeps the record up to date after every call, ending with ``run.finish()``.

What a notebook reads and writes goes through a :class:`Run`, so every input and output is
recorded with its content hash.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nbtrail.core import atomic
from nbtrail.core.errors import NotFound, ParameterError, RecordInvalid
from nbtrail.core.hashing import hash_file
from nbtrail.core.workspace import Workspace
from nbtrail.runs import records
from nbtrail.runs.record_types import Artifact, RunRecord
from nbtrail.runs.runfolder import CONTEXT_FILE, OUTPUTS_DIR, RUN_DIR_ENV, STATE_FILE

if TYPE_CHECKING:
    import pandas as pd

    from nbtrail.data.datasets import DatasetVersion


def start(stage: str, namespace: dict[str, Any] | None = None, *, root: str | None = None) -> Run:
    """Begin (or, under the runner, join) the run of ``stage``.

    ``namespace`` is the notebook's ``globals()``: the values of the names its parameters
    cell declares are taken from it for the record.
    """
    managed = os.environ.get(RUN_DIR_ENV)
    if managed:
        ctx = json.loads((Path(managed) / CONTEXT_FILE).read_text())
        if ctx["stage"] != stage:
            raise ParameterError(
                f"notebook calls nbtrail.start({stage!r}) but the runner is running stage "
                f"{ctx['stage']!r}",
                stage=ctx["stage"],
            )
        return Run(
            ws=Workspace(Path(ctx["root"])),
            stage=stage,
            run_id=ctx["run_id"],
            params=ctx["params"],
            upstream=ctx["upstream"],
            managed=True,
            reproduces=ctx.get("reproduces"),
        )
    return _start_interactive(stage, namespace or {}, root)


def _start_interactive(stage: str, namespace: dict[str, Any], root: str | None) -> Run:
    from nbtrail.pipeline import parameters
    from nbtrail.pipeline.config import load_pipeline

    ws = Workspace.find(root)
    pipeline = load_pipeline(ws)
    st = pipeline.stage(stage)
    decl = parameters.declared(st.notebook)
    params = {k: _jsonable(namespace.get(k, p.default)) for k, p in decl.items()}
    upstream: dict[str, str] = {}
    from nbtrail.runs import index

    for need in st.needs:
        rows = index.query_runs(ws, stage=need, status="completed", limit=1)
        rec = records.load(ws, rows[0].run_id) if rows else None
        if rec is None:
            raise NotFound(
                f"stage {stage!r} reads from stage {need!r}, which has no completed run",
                hint=f"run it first: nbtrail run --stage {need}",
            )
        upstream[need] = rec["run_id"]
    run_id = records.new_run_id(stage)
    record = records.new_record(
        ws,
        run_id=run_id,
        stage=stage,
        origin="interactive",
        params=params,
        notebook=st.notebook,
        upstream=upstream,
        pid=os.getpid(),
    )
    records.write(ws, record)
    # the notebook as saved on disk, so `nbtrail reproduce` can re-execute this run too
    shutil.copyfile(st.notebook, ws.run_dir(run_id) / "source.ipynb")
    return Run(
        ws=ws,
        stage=stage,
        run_id=run_id,
        params=params,
        upstream=upstream,
        managed=False,
        record=record,
    )


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return repr(value)


class Run:
    """One stage execution as the notebook sees it."""

    def __init__(
        self,
        *,
        ws: Workspace,
        stage: str,
        run_id: str,
        params: dict[str, Any],
        upstream: dict[str, str],
        managed: bool,
        record: RunRecord | None = None,
        reproduces: str | None = None,
    ) -> None:
        self.ws = ws
        # the run this one re-executes (``nbtrail reproduce``): a stage that reads workspace
        # state (the registry's champion) reads it as it was then, and changes none of it
        self.reproduces = reproduces
        self.stage = stage
        self.run_id = run_id
        self.params = params
        self.upstream = upstream
        self.managed = managed
        self.dir = ws.run_dir(run_id)
        self._record = record
        self._upstream_records: dict[str, RunRecord] = {}
        state_file = self.dir / STATE_FILE
        if state_file.is_file():
            self.state = json.loads(state_file.read_text())
        else:
            self.state = {"inputs": [], "outputs": {}, "metrics": {}, "verdicts": {}, "extra": {}}

    def __repr__(self) -> str:
        mode = "runner" if self.managed else "interactive"
        return f"<nbtrail run {self.run_id} ({mode})>"

    # Upstream
    def upstream_record(self, stage: str) -> RunRecord:
        """The record of the upstream ``stage`` run this run reads from."""
        if stage not in self.upstream:
            raise NotFound(
                f"stage {self.stage!r} does not read from {stage!r}",
                hint=f"add it to `needs` in params/pipeline.yaml (reads: {sorted(self.upstream)})",
            )
        if stage not in self._upstream_records:
            self._upstream_records[stage] = records.load(self.ws, self.upstream[stage])
        return self._upstream_records[stage]

    def _artifact(self, stage: str, name: str) -> Artifact:
        rec = self.upstream_record(stage)
        art = rec["outputs"].get(name)
        if art is None:
            raise NotFound(
                f"run {rec['run_id']} of stage {stage!r} has no output {name!r}",
                hint=f"its outputs: {', '.join(sorted(rec['outputs'])) or '(none)'}",
            )
        return art

    def _note_input(self, stage: str, art: Artifact) -> None:
        entry = {**art, "stage": stage, "run_id": self.upstream[stage]}
        if entry not in self.state["inputs"]:
            self.state["inputs"].append(entry)
            self._save()

    def input_path(self, stage: str, name: str) -> Path:
        """The verified path of an upstream file output (read it, do not write to it)."""
        from nbtrail.core.errors import IntegrityError

        art = self._artifact(stage, name)
        if art["kind"] == "dataset":
            from nbtrail.data.datasets import Datasets

            path = Datasets(self.ws).path(_field(art, "ref"))
        else:
            path = self.ws.root / _field(art, "path")
            if not path.is_file():
                raise NotFound(f"output {name!r} of stage {stage!r} is missing: {art['path']}")
            if hash_file(path) != art["digest"]:
                raise IntegrityError(
                    f"output {name!r} of stage {stage!r} ({art['path']}) no longer matches its "
                    f"recorded hash",
                    hint=f"re-run the stage: nbtrail run --force-stage {stage}",
                )
        self._note_input(stage, art)
        return path

    def read_dataset(self, stage: str, name: str) -> pd.DataFrame:
        """An upstream dataset output as a DataFrame (verified against its hash)."""
        from nbtrail.data.datasets import Datasets

        art = self._artifact(stage, name)
        frame = Datasets(self.ws).read_frame(_field(art, "ref"))
        self._note_input(stage, art)
        return frame

    def read_json(self, stage: str, name: str) -> Any:
        """An upstream JSON output, parsed (verified against its hash, recorded as input)."""
        return json.loads(self.input_path(stage, name).read_text())

    def load_model(self, stage: str, name: str = "model") -> Any:
        """An upstream skops model, loaded with the reviewed allow-list of trusted types."""
        from nbtrail.practices.models import load_model

        return load_model(self.input_path(stage, name))

    def use_dataset(self, ref: str) -> pd.DataFrame:
        """Read a dataset version from the store by ``name[@version]`` and record it as input."""
        from nbtrail.data.datasets import Datasets

        cat = Datasets(self.ws)
        dv = cat.get(ref)
        frame = cat.read_frame(dv)
        self.note_dataset_input(dv)
        return frame

    def note_dataset_input(self, dv: DatasetVersion) -> None:
        """Record a dataset version this run read (by :meth:`use_dataset`, or by the data
        stage's own reader, which sniffs a CSV's encoding and delimiter) as an input."""
        entry = {
            "name": dv.name,
            "kind": "dataset",
            "path": None,
            "digest": dv.digest,
            "ref": dv.ref,
            "stage": None,
            "run_id": dv.run_id,
        }
        if entry not in self.state["inputs"]:
            self.state["inputs"].append(entry)
            self._save()

    # Outputs
    def output_path(self, filename: str) -> Path:
        """A path inside this run's ``outputs/`` folder to write a file to."""
        if "/" in filename or filename.startswith("."):
            raise ParameterError(f"output file name {filename!r} must be a plain file name")
        out = self.dir / OUTPUTS_DIR
        out.mkdir(parents=True, exist_ok=True)
        return out / filename

    def save_file(
        self,
        name: str,
        path: str | os.PathLike[str],
        *,
        kind: str = "file",
        expected_to_differ: str | None = None,
    ) -> Path:
        """Record a file as output ``name`` (copied into the run folder when it is elsewhere).

        ``expected_to_differ``: why re-executing the run cannot give the same bytes (by
        design, e.g. a plot of a history that grows with every run); the record marks the
        output ``reproducible: false`` with that ``reason`` and ``nbtrail reproduce`` reports
        it as expected to differ instead of failing.
        """
        if expected_to_differ is not None and not expected_to_differ.strip():
            raise ParameterError(f"output {name!r}: expected_to_differ needs a reason")
        src = Path(path)
        dest = src
        if src.resolve().parent != (self.dir / OUTPUTS_DIR).resolve():
            dest = self.output_path(src.name)
            shutil.copyfile(src, dest)
        art: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "path": self.ws.relative(dest),
            "digest": hash_file(dest),
            "ref": None,
        }
        if expected_to_differ is not None:
            art["reproducible"] = False
            art["reason"] = expected_to_differ.strip()
        self.state["outputs"][name] = art
        self._save()
        return dest

    def save_json(self, name: str, obj: Any) -> Path:
        """Write ``obj`` as ``outputs/<name>.json`` and record it as output ``name``."""
        p = self.output_path(f"{name}.json")
        atomic.write_json(p, obj)
        return self.save_file(name, p, kind="json")

    def save_model(self, name: str, model: Any) -> Path:
        """Save ``model`` with skops as ``outputs/<name>.skops`` and record it (kind model)."""
        from nbtrail.practices.models import save_model

        p = save_model(model, self.output_path(f"{name}.skops"))
        return self.save_file(name, p, kind="model")

    def save_dataset(self, name: str, frame: pd.DataFrame, *, dataset: str) -> str:
        """Version ``frame`` in the data store as ``dataset``; returns its ``name@version``."""
        from nbtrail.data.datasets import Datasets

        dv = Datasets(self.ws).add_frame(frame, dataset, run_id=self.run_id, source=self.run_id)
        self.state["outputs"][name] = {
            "name": name,
            "kind": "dataset",
            "path": None,
            "digest": dv.digest,
            "ref": dv.ref,
        }
        self._save()
        return dv.ref

    def save_report(self, name: str, snapshot: Any, *, title: str | None = None) -> Path:
        """Save an Evidently snapshot as a small HTML page and record it (kind report)."""
        from nbtrail.practices.reports import save_report

        p = save_report(snapshot, self.output_path(f"{name}.html"), self.ws, title=title)
        return self.save_file(name, p, kind="report")

    # Metrics and verdicts
    def log_metrics(self, metrics: dict[str, Any]) -> None:
        """Record numeric metrics (``None`` for one that could not be computed)."""
        for key, value in metrics.items():
            v = float(value) if value is not None else None
            self.state["metrics"][str(key)] = None if v is not None and math.isnan(v) else v
        self._save()

    def verdict(self, name: str, *, passed: bool, **detail: Any) -> None:
        """Record a named pass/fail check (a gate, a behavioural test, a drift test)."""
        self.state["verdicts"][name] = {"passed": bool(passed), **_jsonable_dict(detail)}
        self._save()

    def summarize(
        self, *, metrics: list[str] | None = None, lines: list[str] | None = None
    ) -> None:
        """Say what ``nbtrail run``'s summary shows for this stage: the metrics to print (those
        logged; the rest are skipped) and one-line facts (a decision, where an export went)."""
        self.note("summary", {"metrics": list(metrics or []), "lines": list(lines or [])})

    def note(self, key: str, value: Any) -> None:
        """Extra facts for the record (JSON-able)."""
        self.state["extra"][key] = _jsonable(value)
        self._save()

    # Persistence
    def _save(self) -> None:
        atomic.write_json(self.dir / STATE_FILE, self.state)
        if not self.managed and self._record is not None:
            rec = self._record
            rec["inputs"] = self.state["inputs"]
            rec["outputs"] = self.state["outputs"]
            rec["metrics"] = self.state["metrics"]
            rec["verdicts"] = self.state["verdicts"]
            rec["extra"] = self.state["extra"]
            records.write(self.ws, self._record)

    def finish(self) -> None:
        """Mark the run completed (the runner does this itself for runs it manages)."""
        self._save()
        if not self.managed and self._record is not None:
            self._record["status"] = "completed"
            self._record["ended"] = records.now()
            records.write(self.ws, self._record)


def _field(art: Artifact, key: str) -> str:
    value = art.get(key)
    if not isinstance(value, str) or not value:
        raise RecordInvalid(f"output {art['name']!r} has no {key} in its record")
    return value


def _jsonable_dict(d: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        if hasattr(v, "item"):
            v = v.item()
        out[k] = _jsonable(v)
    return out
