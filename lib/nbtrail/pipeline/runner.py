"""Run the pipeline: check every parameter first, then execute stages with papermill.

For each stage the runner resolves its parameters (notebook defaults < ``params/<stage>.yaml``
< ``--params FILE`` < ``-p stage.key=value``), computes its fingerprint, reuses a completed
run with the same fingerprint when there is one, and otherwise makes a run folder, writes a
``running`` record, executes the notebook into that folder with ``$NBTRAIL_RUN_DIR`` set for
the kernel, and writes the final record (completed or failed, with the error's cell).
A failed stage stops the stages after it; the error says where the failed notebook is.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from nbtrail.core import atomic
from nbtrail.core.errors import DiskFull, NotFound, StageFailed, is_disk_full
from nbtrail.core.workspace import Workspace
from nbtrail.pipeline import fingerprint, forkserver, kernels, parameters, progress
from nbtrail.pipeline.config import Stage
from nbtrail.pipeline.declared import record_declared_files
from nbtrail.pipeline.failures import (
    describe_failure,
    drop_unreadable_notebook,
    failed_for_space,
    keep_kernel_log,
)
from nbtrail.pipeline.plan import RunPlan
from nbtrail.pipeline.signing import trust_notebook
from nbtrail.pipeline.widget_outputs import freeze_widget_outputs
from nbtrail.runs import records
from nbtrail.runs.record_types import ErrorInfo, Origin, RunRecord
from nbtrail.runs.runfolder import CONTEXT_FILE, RUN_DIR_ENV, SOURCE_COPY, STATE_FILE


@dataclass
class StageResult:
    stage: str
    status: str  # completed, cached, failed, skipped
    run_id: str | None = None
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, Any] = field(default_factory=dict)
    outputs: str | None = None
    note: str = ""
    artifacts: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


class Runner:
    """Executes a :class:`RunPlan`; ``on_event`` receives event lines for the CLI and
    ``on_progress`` the cell each running stage is executing (:mod:`nbtrail.pipeline.progress`)."""

    def __init__(
        self,
        ws: Workspace,
        *,
        force: bool = False,
        force_stages: tuple[str, ...] = (),
        on_event: Callable[[str], None] | None = None,
        on_progress: Callable[[progress.Progress], None] | None = None,
        origin: Origin = "runner",
        jobs: int = 2,
        tags: dict[str, Any] | None = None,
        kernel_env: dict[str, str | None] | None = None,
        fork_server: bool | None = None,
    ) -> None:
        self.ws = ws
        # kernels forked by one fork server per runner (None: unless NBTRAIL_FORK_SERVER=0)
        self.fork_server = forkserver.enabled() if fork_server is None else fork_server
        self._fork: forkserver.ForkServer | None = None
        self._fork_lock = threading.Lock()
        self._notebooks: list[Path] = []
        # the kernels get this process's environment but for these variables (None: unset):
        # a reproduction's kernel gets the original's thread settings this way
        self.kernel_env = dict(kernel_env or {})
        self.tags = dict(tags or {})  # into the ``extra`` of every record it writes (a sweep)
        self.jobs = max(1, jobs)
        self.force = force
        self.force_stages = set(force_stages)
        self.on_event = on_event or (lambda _msg: None)
        self.on_progress = on_progress
        self.origin = origin
        self._code_tree: str | None = None
        self._warm: dict[str, kernels.WarmKernel] = {}
        self._stopping: list[threading.Thread] = []
        self._env: dict[str, Any] | None = None
        self._git: dict[str, Any] | None = None

    # Provenance is computed once per invocation
    def _provenance(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from nbtrail.core import provenance

        if self._env is None:
            self._env = provenance.environment(self.ws.lock_file, self._kernel_environ())
            self._git = provenance.git_state(self.ws.root)
        assert self._git is not None
        return self._git, self._env

    def _code_tree_hash(self) -> str:
        if self._code_tree is None:
            self._code_tree = fingerprint.code_tree_hash(self.ws)
        return self._code_tree

    def _fingerprint(
        self, st: Stage, params: dict[str, Any], upstream: dict[str, RunRecord]
    ) -> str:
        return fingerprint.of_stage(self.ws, st, params, upstream, self._code_tree_hash())

    def _find_cached(self, stage: str, fp: str) -> RunRecord | None:
        """A completed runner run with this fingerprint whose outputs still exist (via the
        index, so no record is parsed but the one reused)."""
        from nbtrail.runs import index

        run_id = index.find_cached(self.ws, stage, fp)
        return records.load(self.ws, run_id) if run_id else None

    def _latest(self, stage: str) -> RunRecord | None:
        from nbtrail.runs import index

        rows = index.query_runs(self.ws, stage=stage, status="completed", limit=1)
        return records.load(self.ws, rows[0].run_id) if rows else None

    def run(self, rp: RunPlan) -> list[StageResult]:
        from nbtrail.runs import index

        try:
            with index.held_open(self.ws):
                return self._run(rp)
        finally:
            self.close()

    def close(self) -> None:
        """Stop every kernel this runner started and wait until they are gone."""
        for wk in self._warm.values():
            kernels.shutdown(wk)
        self._warm.clear()
        while self._stopping:
            self._stopping.pop().join()
        if self._fork is not None:
            self._fork.close()
            self._fork = None

    def _kernel_environ(self) -> dict[str, str]:
        env = dict(os.environ)
        for var, value in self.kernel_env.items():
            if value is None:
                env.pop(var, None)
            else:
                env[var] = value
        return env

    def _fork_server(self, stage: Stage) -> forkserver.ForkServer | None:
        """The fork server of this runner's kernels, started for the first kernel and kept
        until :meth:`close`; None when disabled or when it cannot start (kernels start cold)."""
        with self._fork_lock:
            if self._fork is None and self.fork_server:
                self._start_fork_server(stage)
        return self._fork

    def _start_fork_server(self, stage: Stage) -> None:
        later: list[str] = []
        for nb in self._notebooks:
            if nb != stage.notebook:
                later += kernels.notebook_imports(nb)
        modules = forkserver.preload_modules(kernels.notebook_imports(stage.notebook), after=later)
        log = self.ws.tmp_dir / "kernels" / f"fork-server-{os.getpid()}-{id(self)}.log"
        try:
            self._fork = forkserver.ForkServer(modules, self._kernel_environ(), log)
        except (OSError, ValueError) as exc:
            self.fork_server = False
            self.on_event(f"kernels start cold: {exc}")

    def _kernel_for(self, stage: Stage, *, warm: bool) -> kernels.WarmKernel:
        log = self.ws.tmp_dir / "kernels" / f"{stage.name}-{os.getpid()}-{id(stage)}.log"
        return kernels.start(
            stage.name,
            stage.notebook,
            self.ws.notebooks_dir,
            log,
            warm=warm,
            env=self._kernel_environ(),
            fork=self._fork_server(stage),
        )

    def _warm_next(self, rp: RunPlan, pending: list[str], started: set[str]) -> None:
        """Start, ahead of time, the kernels of the stages that can start once the stages
        ``started`` so far end (every stage they need is among them), up to ``jobs`` kernels
        waiting at a time: with ``-j 2``, both stages after a fork find a warm kernel."""
        for name in pending:
            if len(self._warm) >= self.jobs:
                return
            st = rp.pipeline.stages[name]
            if name not in self._warm and all(n not in rp.stages or n in started for n in st.needs):
                self._warm[name] = self._kernel_for(st, warm=True)

    def _run(self, rp: RunPlan) -> list[StageResult]:
        """Schedule the stages: each starts once the stages it needs are done, up to
        ``jobs`` at a time (stages that do not depend on each other run together); after a
        failure nothing new starts, and the stages not run are reported as skipped."""
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        results: dict[str, StageResult] = {}
        done: dict[str, RunRecord] = {}  # stage -> record used this invocation
        error: StageFailed | DiskFull | None = None
        pending = list(rp.stages)
        self._notebooks = [rp.pipeline.stages[n].notebook for n in rp.stages]
        running: dict[Future, str] = {}
        self._provenance()  # computed once, before any worker thread needs it
        self._code_tree_hash()
        with ThreadPoolExecutor(max_workers=self.jobs, thread_name_prefix="nbtrail-stage") as pool:
            while pending or running:
                for name in list(pending):
                    if error is not None:
                        break
                    st = rp.pipeline.stages[name]
                    if any(n in rp.stages and n not in done for n in st.needs):
                        continue  # waits for a stage of this run
                    if len(running) >= self.jobs:
                        break
                    pending.remove(name)
                    upstream = self._upstream(st, done)
                    params = rp.params[name]
                    fp = self._fingerprint(st, params, upstream)
                    forced = self.force or name in self.force_stages
                    cached = None if forced else self._find_cached(name, fp)
                    if cached is not None:
                        done[name] = cached
                        results[name] = self._result(cached, "cached")
                        self.on_event(f"{name}: unchanged, reusing run {cached['run_id']}")
                        continue
                    wk = self._warm.pop(name, None) or self._kernel_for(st, warm=False)
                    self._warm_next(rp, pending, {*done, *running.values(), name})
                    fut = pool.submit(self.execute_stage, st, params, upstream, fp, kernel=wk)
                    running[fut] = name
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    name = running.pop(fut)
                    try:
                        rec = fut.result()
                    except StageFailed as exc:
                        error = error or exc
                        results[name] = StageResult(
                            name,
                            "failed",
                            run_id=exc.run_id,
                            outputs=exc.saved,
                            note=f"{exc.ename} in cell {exc.cell}",
                        )
                        continue
                    except DiskFull as exc:
                        error = error or exc
                        results[name] = StageResult(
                            name, "failed", run_id=exc.run_id, note="disk full"
                        )
                        continue
                    done[name] = rec
                    results[name] = self._result(rec, "completed")
        ordered = [
            results.get(n) or StageResult(n, "skipped", note="an earlier stage failed")
            for n in rp.stages
        ]
        if error is not None:
            raise _PipelineFailed(ordered, error)
        return ordered

    def _upstream(self, st: Stage, done: dict[str, RunRecord]) -> dict[str, RunRecord]:
        upstream: dict[str, RunRecord] = {}
        for need in st.needs:
            rec = done.get(need) or self._latest(need)
            if rec is None:
                raise NotFound(
                    f"stage {st.name!r} reads from stage {need!r}, which has no completed run",
                    hint=f"run the pipeline first: nbtrail run (or --stage {need})",
                )
            upstream[need] = rec
        return upstream

    def _result(self, rec: RunRecord, status: str) -> StageResult:
        return StageResult(
            rec["stage"],
            status,
            run_id=rec["run_id"],
            seconds=(rec["duration_s"] or 0.0) if status == "completed" else 0.0,
            metrics=rec["metrics"],
            verdicts=rec["verdicts"],
            artifacts=rec["outputs"],
            extra=rec.get("extra", {}),
            outputs=self.ws.relative(self.ws.run_dir(rec["run_id"])),
            note="unchanged: reused" if status == "cached" else "",
        )

    def execute_stage(
        self,
        st: Stage,
        params: dict[str, Any],
        upstream: dict[str, RunRecord],
        fp: str | None,
        *,
        reproduces: str | None = None,
        source: Path | None = None,
        kernel: kernels.WarmKernel | None = None,
    ) -> RunRecord:
        """Execute one stage notebook into a new run folder; returns its final record.

        ``source`` replaces the stage's notebook file (``reproduce`` runs the copy kept in the
        original run's folder). The notebook executed is always kept as ``source.ipynb``.
        """
        params = parameters.as_recorded(params)  # what a reproduction injects from the record
        run_id = records.new_run_id(st.name)
        run_dir = self.ws.run_dir(run_id)
        full = {
            "path": self.ws.relative(run_dir),
            "what": f"run {run_id} of stage {st.name!r}",
            "stage": st.name,
            "run_id": run_id,
        }
        try:
            record, executed = self._open_run(st, params, upstream, fp, run_id, reproduces, source)
        except BaseException as exc:
            if kernel is not None:
                self._stopping.append(kernels.shutdown_in_background(kernel))
            if not is_disk_full(exc):
                raise
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing ran: leave no folder half made
            raise DiskFull(**full) from exc
        self.on_event(f"{st.name}: running {self.ws.relative(st.notebook)} as {run_id}")
        t0 = time.perf_counter()
        try:
            wk = kernel or self._kernel_for(st, warm=False)
            try:
                self._papermill(run_dir / SOURCE_COPY, params, executed, run_dir, wk, run_id)
            finally:
                record["extra"]["kernel"] = dict(wk.extra)  # its start, warm-up and wait
                # the kernel is stopped in the background (joined before `run` returns)
                self._stopping.append(kernels.shutdown_in_background(wk))
                keep_kernel_log(wk.log_path, run_dir / "kernel.log")
        except BaseException as exc:  # record every way a stage can end, then re-raise
            error = describe_failure(exc, run_dir / SOURCE_COPY, executed)
            no_space = failed_for_space(exc, error)
            if drop_unreadable_notebook(executed):
                record["notebook"]["executed"] = None
            record["status"] = "interrupted" if error.get("interrupted") else "failed"
            error.pop("interrupted", None)
            record["error"] = cast(ErrorInfo, error)
            try:
                self._finish(record, run_dir, t0)
            except Exception as late:
                if not (no_space and is_disk_full(late)):
                    raise
                # no room for the failed record either: the one on disk still says `running`,
                # which reads `interrupted` once this process has ended; never `completed`
            if not isinstance(exc, Exception):
                raise
            if no_space:
                raise DiskFull(**full) from exc
            raise StageFailed(
                stage=st.name,
                notebook=self.ws.relative(st.notebook),
                cell=error.get("cell"),
                ename=error["ename"],
                evalue=error["evalue"],
                saved=self.ws.relative(executed) if executed.is_file() else None,
                run_id=run_id,
                traceback=error.get("traceback"),
            ) from exc
        record["status"] = "completed"
        try:
            self._finish(record, run_dir, t0, declared=st)
        except BaseException as exc:
            if not is_disk_full(exc):
                raise
            # the completed record never reached the disk (it is written atomically)
            raise DiskFull(**full) from exc
        if record["status"] != "completed":
            failure = record["error"] or {"ename": "StageFailed", "evalue": record["status"]}
            raise StageFailed(
                stage=st.name,
                notebook=self.ws.relative(st.notebook),
                cell=None,
                ename=failure["ename"],
                evalue=failure["evalue"],
                saved=self.ws.relative(executed),
                run_id=run_id,
            )
        return record

    def _open_run(
        self,
        st: Stage,
        params: dict[str, Any],
        upstream: dict[str, RunRecord],
        fp: str | None,
        run_id: str,
        reproduces: str | None,
        source: Path | None,
    ) -> tuple[RunRecord, Path]:
        """Make the run folder with its notebook copy, context and ``running`` record; returns
        the record and where the executed notebook will go."""
        run_dir = self.ws.run_dir(run_id)
        run_dir.mkdir(parents=True)
        shutil.copyfile(source or st.notebook, run_dir / SOURCE_COPY)
        git, env = self._provenance()
        record = records.new_record(
            self.ws,
            run_id=run_id,
            stage=st.name,
            origin=self.origin,
            params=params,
            notebook=run_dir / SOURCE_COPY,
            upstream={s: r["run_id"] for s, r in upstream.items()},
            pid=os.getpid(),
            git=git,
            environment=env,
        )
        record["notebook"]["path"] = self.ws.relative(st.notebook)
        record["fingerprint"] = fp
        record["reproduces"] = reproduces
        record["extra"]["code_tree"] = self._code_tree_hash()
        record["extra"].update(self.tags)
        executed = run_dir / st.notebook.name
        record["notebook"]["executed"] = self.ws.relative(executed)
        atomic.write_json(
            run_dir / CONTEXT_FILE,
            {
                "run_id": run_id,
                "stage": st.name,
                "root": str(self.ws.root),
                "params": params,
                "upstream": record["upstream"],
                "reproduces": reproduces,
            },
        )
        records.write(self.ws, record)
        self._after_write(record)
        return record, executed

    def _papermill(
        self,
        notebook: Path,
        params: dict[str, Any],
        executed: Path,
        run_dir: Path,
        wk: kernels.WarmKernel,
        run_id: str,
    ) -> None:
        papermill = kernels.import_papermill()
        km = kernels.bind(wk, {RUN_DIR_ENV: str(run_dir)})
        tracker = None
        if self.on_progress is not None:
            tracker = progress.CellTracker(
                wk.stage, run_id, notebook, self.on_progress, injected=bool(params)
            )
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                parameters=params,
                kernel_name="python3",
                progress_bar=False,
                log_output=False,
                request_save_on_cell_execute=True,
                km=km,
                **(tracker.hooks() if tracker else {}),
            )
        finally:
            if tracker is not None:
                tracker.finish()

    def _finish(
        self, record: RunRecord, run_dir: Path, t0: float, declared: Stage | None = None
    ) -> None:
        state_file = run_dir / STATE_FILE
        if state_file.is_file():
            state = json.loads(state_file.read_text())
            record["inputs"] = state.get("inputs", record["inputs"])
            record["outputs"] = state.get("outputs", record["outputs"])
            record["metrics"] = state.get("metrics", record["metrics"])
            record["verdicts"] = state.get("verdicts", record["verdicts"])
            record["extra"] = {**record["extra"], **state.get("extra", {})}
        if declared is not None:
            record_declared_files(self.ws, record, declared)
        record["ended"] = records.now()
        record["duration_s"] = round(time.perf_counter() - t0, 3)
        executed = record["notebook"]["executed"]
        if executed:
            self._sign(run_dir / Path(executed).name)
        records.write(self.ws, record)
        self._after_write(record)

    def _sign(self, executed: Path) -> None:
        """Keep its widgets' outputs as their static renderings, then trust the executed
        notebook so JupyterLab renders its reports (papermill's isn't)."""
        if not executed.is_file():
            return
        try:
            freeze_widget_outputs(executed)
            trust_notebook(executed)
        except ValueError:  # not a whole notebook (its save was cut short): nothing to sign
            return

    def _after_write(self, record: RunRecord) -> None:
        """Keep the index in step with the record just written, and emit its OpenLineage
        event (START for a running record, then COMPLETE / FAIL / ABORT)."""
        from nbtrail.runs import index, openlineage

        index.upsert(self.ws, record)
        for problem in openlineage.emit_run(self.ws, record):
            self.on_event(f"OpenLineage: {problem}")


class _PipelineFailed(Exception):
    """Carries the partial results to the CLI together with the stage's error."""

    def __init__(self, results: list[StageResult], error: StageFailed | DiskFull) -> None:
        super().__init__(str(error))
        self.results = results
        self.error = error


PipelineFailed = _PipelineFailed
