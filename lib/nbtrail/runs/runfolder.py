"""The run-folder protocol: the names the runner, the notebook API and reports agree on.

A run folder is ``workspace/runs/<run_id>/``. The runner writes ``context.json`` (stage, run id,
parameters, upstream runs) and the notebook copy ``source.ipynb``, and passes the folder to the
kernel in ``$NBTRAIL_RUN_DIR``; the notebook's :class:`~nbtrail.notebook.run.Run` keeps what it
read and wrote in ``state.json`` and its files under ``outputs/``.
"""

from __future__ import annotations

RUN_DIR_ENV = "NBTRAIL_RUN_DIR"
CONTEXT_FILE = "context.json"
STATE_FILE = "state.json"
OUTPUTS_DIR = "outputs"
SOURCE_COPY = "source.ipynb"
