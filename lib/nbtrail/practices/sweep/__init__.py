"""Parameter sweeps as a practice: the spec, where members' values come from (grid, random,
Optuna's TPE), the sweep's record and its table. No Dask here: the executor is in
:mod:`nbtrail.pipeline.sweep`."""

from __future__ import annotations

from nbtrail.practices.sweep import record
from nbtrail.practices.sweep.record import Member, SweepRecord, best_member
from nbtrail.practices.sweep.spec import Budget, Range, SweepSpec, parse_spec
from nbtrail.practices.sweep.suggest import (
    GridSuggester,
    OptunaSuggester,
    RandomSuggester,
    Suggester,
    Suggestion,
    suggester,
)
from nbtrail.practices.sweep.table import format_table, ranked

__all__ = [
    "Budget",
    "GridSuggester",
    "Member",
    "OptunaSuggester",
    "RandomSuggester",
    "Range",
    "Suggester",
    "Suggestion",
    "SweepRecord",
    "SweepSpec",
    "best_member",
    "record",
    "format_table",
    "parse_spec",
    "ranked",
    "suggester",
]
