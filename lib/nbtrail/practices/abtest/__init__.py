"""Champion versus challenger: paired offline tests and a simulated online experiment.

Every public function returns plain JSON-able dicts (ready for ``run.save_json`` and the run
record); display helpers turn them into DataFrames.

Offline, paired (both models scored on the same holdout rows):

- ``paired.py``: :func:`mcnemar_test` on per-row correctness (exact binomial below 25
  discordant pairs, else chi-square with continuity correction), :func:`paired_bootstrap`
  (each metric's difference, challenger minus champion, with a percentile interval, SE,
  standardised effect and two-sided bootstrap p-value; the bootstrap is the holdout
  intervals' one, :mod:`nbtrail.practices.evaluation.bootstrap`), :func:`holm`.
- ``wilcoxon.py``: :func:`wilcoxon_abs_errors`: regressors' paired absolute errors, the
  signed-rank test (``scipy.stats.wilcoxon``) and the Hodges-Lehmann shift.
- ``simultaneous.py``: the intervals that agree with Holm's decisions (a rejected metric at
  the level of its Holm step, the others at the level where Holm stopped; each its own
  test inverted), so "excludes 0" and "significant after Holm" never disagree.
- ``decision.py``: :func:`decide`: promote / keep_champion / inconclusive, with the reason.
- ``offline.py``: :func:`compare_offline`, all of it on one holdout, for each task
  (classifiers: accuracy uses McNemar's p-value; regression: the Wilcoxon row
  ``abs_error``; the others the bootstrap p-value), and :func:`comparison_table`;
  ``plots.py``: :func:`effect_plot`.
- ``schema.py``: :func:`check_same_schema`, so like is compared with like.

Online, simulated:

- ``assignment.py``: :func:`assign_arms`: sticky assignment; ``sha256(salt + id)`` mapped to
  [0, 1) and compared with the configured split, so one id always gets one arm, in any
  process.
- ``power.py``: :func:`sample_size_two_proportions` / :func:`power_two_proportions`: the
  normal-approximation (pooled-variance null, unpooled alternative; Fleiss, without
  continuity correction) sample size for a two-sided test of two proportions.
- ``sequential.py``: :func:`group_sequential_design`: **the sequential test chosen** is a
  two-sided group-sequential design with Lan-DeMets alpha spending, O'Brien-Fleming type by
  default; the module says how its boundaries are found and why it was chosen over a
  mixture SPRT.
- ``experiment.py``: :func:`plan_experiment`; :func:`run_online_experiment`: assign ids,
  draw outcomes per arm, look at the planned fractions with the pooled two-proportion z
  statistic, stop at the first boundary crossing, and report repeated confidence intervals
  (valid at whichever look the experiment stopped); :func:`simulate_sequential`: many
  experiments at once (vectorised), for A/A and power checks.
- ``lines.py``: one-line reports (:func:`mcnemar_line`, :func:`plan_line`).
"""

from nbtrail.practices.abtest.assignment import ARMS, _unit, assign_arms
from nbtrail.practices.abtest.decision import DECISIONS, decide, no_champion_decision
from nbtrail.practices.abtest.experiment import (
    looks_table,
    plan_experiment,
    run_online_experiment,
    simulate_sequential,
)
from nbtrail.practices.abtest.lines import mcnemar_line, plan_line
from nbtrail.practices.abtest.offline import (
    PRIMARY,
    adjusted_intervals,
    compare_offline,
    comparison_table,
)
from nbtrail.practices.abtest.paired import (
    holm,
    mcnemar_p_at,
    mcnemar_test,
    paired_bootstrap,
    paired_differences,
)
from nbtrail.practices.abtest.plots import effect_plot
from nbtrail.practices.abtest.power import (
    ErrorRates,
    power_two_proportions,
    sample_size_two_proportions,
)
from nbtrail.practices.abtest.schema import check_same_schema, model_input_schema
from nbtrail.practices.abtest.sequential import (
    fractions_of,
    group_sequential_design,
    spending,
)
from nbtrail.practices.abtest.simultaneous import (
    bootstrap_bounds,
    holm_multipliers,
    inverted_bounds,
)
from nbtrail.practices.abtest.wilcoxon import hodges_lehmann, wilcoxon_abs_errors

__all__ = [
    "ARMS",
    "DECISIONS",
    "PRIMARY",
    "ErrorRates",
    "adjusted_intervals",
    "_unit",
    "assign_arms",
    "bootstrap_bounds",
    "check_same_schema",
    "compare_offline",
    "comparison_table",
    "decide",
    "effect_plot",
    "fractions_of",
    "group_sequential_design",
    "hodges_lehmann",
    "holm",
    "holm_multipliers",
    "inverted_bounds",
    "looks_table",
    "mcnemar_line",
    "mcnemar_p_at",
    "mcnemar_test",
    "model_input_schema",
    "no_champion_decision",
    "paired_bootstrap",
    "paired_differences",
    "plan_line",
    "plan_experiment",
    "power_two_proportions",
    "run_online_experiment",
    "sample_size_two_proportions",
    "simulate_sequential",
    "spending",
    "wilcoxon_abs_errors",
]
