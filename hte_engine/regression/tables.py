"""Assemble hte_interaction_regressions from the cell fits and the unit-level fits that cells cannot give.

Routing, per experiment: cluster-robust errors need units (a cluster spans cells), so an experiment whose
assignments carry cluster_id is fit from units; every other experiment is fit exactly from cells. Lin's
covariate adjustment and logistic marginal effects are unit-level additions beside the cell fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hte_engine.regression.interactions import REGRESSION_COLUMNS, RegressionSettings, interaction_regressions_from_cells
from hte_engine.regression.units import (
    clustered_interaction_regressions,
    covariate_adjusted_effects,
    logit_segment_effects,
)


def experiments_with_features(features: pd.DataFrame | None, experiment_ids: Sequence[str]) -> set[str]:
    """Experiments with a value in some numeric feature column; a row without experiment_id applies to all."""
    if features is None or features.empty:
        return set()
    valued = features.drop(columns=["experiment_id", "unit_id"]).notna().any(axis=1)
    found = features.loc[valued, "experiment_id"]
    if found.isna().any():
        return {str(e) for e in experiment_ids}
    return {str(e) for e in found.unique()} & {str(e) for e in experiment_ids}


def experiments_needing_units(
    cells: pd.DataFrame,
    settings: RegressionSettings,
    clustered: Sequence[str],
    binary_metrics: Sequence[str],
    features: pd.DataFrame | None = None,
) -> list[str]:
    needed = set(clustered)
    if settings.covariate_adjustment and "has_pre_period" in cells.columns:
        needed |= set(cells.loc[cells["has_pre_period"].astype(bool), "experiment_id"])
    if settings.covariate_adjustment:
        needed |= experiments_with_features(features, cells["experiment_id"].unique())
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
    features: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every row of hte_interaction_regressions; `units` holds (a bounded sample of) the experiments that need them.

    `features` holds experiment_id, unit_id and the numeric feature columns for Lin's covariate adjustment.
    """
    parts = [interaction_regressions_from_cells(cells, experiments, dimensions, settings, skip_experiments=clustered)]
    if units is not None and not units.empty:
        source = "units_sample" if units_sampled else "units"
        in_clusters = units[units["experiment_id"].isin(list(clustered))]
        if not in_clusters.empty:
            parts.append(clustered_interaction_regressions(in_clusters, experiments, dimensions, settings, source))
        if settings.covariate_adjustment:
            # Comparisons with neither a pre-period value nor a numeric feature are skipped inside.
            parts.append(covariate_adjusted_effects(units, experiments, settings, source, features))
        if settings.binary_model == "logit" and binary_metrics:
            parts.append(logit_segment_effects(units, experiments, dimensions, settings, binary_metrics, source))
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=REGRESSION_COLUMNS)
    return pd.concat(parts, ignore_index=True)[REGRESSION_COLUMNS]
