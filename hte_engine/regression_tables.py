"""Assemble hte_interaction_regressions from the cell fits and the unit-level fits that cells cannot give.

Routing, per experiment: cluster-robust errors need units (a cluster spans cells), so an experiment whose
assignments carry cluster_id is fit from units; every other experiment is fit exactly from cells. Lin's
covariate adjustment and logistic marginal effects are unit-level additions beside the cell fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hte_engine.regression import REGRESSION_COLUMNS, RegressionSettings, interaction_regressions_from_cells
from hte_engine.unit_regression import (
    clustered_interaction_regressions,
    covariate_adjusted_effects,
    logit_segment_effects,
)


def experiments_needing_units(
    cells: pd.DataFrame, settings: RegressionSettings, clustered: Sequence[str], binary_metrics: Sequence[str]
) -> list[str]:
    needed = set(clustered)
    if settings.covariate_adjustment and "has_pre_period" in cells.columns:
        needed |= set(cells.loc[cells["has_pre_period"].astype(bool), "experiment_id"])
    if settings.binary_model == "logit":
        needed |= set(cells.loc[cells["metric"].isin(list(binary_metrics)), "experiment_id"])
    return sorted(str(e) for e in needed)


def interaction_regressions_table(
    cells: pd.DataFrame,
    experiments: pd.DataFrame,
    dimensions: Sequence[str],
    settings: RegressionSettings,
    units: pd.DataFrame | None = None,
    units_sampled: bool = False,
    clustered: Sequence[str] = (),
    binary_metrics: Sequence[str] = (),
) -> pd.DataFrame:
    """Every row of hte_interaction_regressions; `units` holds (a bounded sample of) the experiments that need them."""
    parts = [interaction_regressions_from_cells(cells, experiments, dimensions, settings, skip_experiments=clustered)]
    if units is not None and not units.empty:
        source = "units_sample" if units_sampled else "units"
        in_clusters = units[units["experiment_id"].isin(list(clustered))]
        if not in_clusters.empty:
            parts.append(clustered_interaction_regressions(in_clusters, experiments, dimensions, settings, source))
        if settings.covariate_adjustment:
            # Comparisons without a pre-period value are skipped inside; staging guarantees the value is on
            # every unit of an experiment x metric or on none, so no unit is silently dropped.
            parts.append(covariate_adjusted_effects(units, experiments, settings, source))
        if settings.binary_model == "logit" and binary_metrics:
            parts.append(logit_segment_effects(units, experiments, dimensions, settings, binary_metrics, source))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[REGRESSION_COLUMNS]
