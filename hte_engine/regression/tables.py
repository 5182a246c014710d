"""Assemble hte_interaction_regressions from the cell fits and the unit-level fits that cells cannot give.

Routing, per experiment: cluster-robust errors need units (a cluster spans cells), so an experiment whose
assignments carry cluster_id is fit from units; every other experiment is fit exactly from cells. Lin's
covariate adjustment and logistic marginal effects are unit-level additions beside the cell fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from hte_engine.io import bounded_units, experiments_with_clusters, numeric_features, only_experiments, to_pandas
from hte_engine.regression.interactions import (
    REGRESSION_COLUMNS,
    TEST_COLUMNS,
    RegressionSettings,
    heterogeneity_tests,
    interaction_regressions_from_cells,
)
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


def interaction_regressions(cells, experiments, unit_rows, unit_features, settings: RegressionSettings) -> pd.DataFrame:
    """hte_interaction_regressions from the warehouse's relations (DuckDB, Spark, Snowpark or pandas): the cells
    and experiments whole (small), the unit rows only of the experiments that need them (clusters, Lin's
    adjustment, logit), as a bounded deterministic sample (`io.bounded_units`)."""
    cells, experiments = to_pandas(cells), to_pandas(experiments)
    clustered = experiments_with_clusters(unit_rows)
    features = None
    if settings.covariate_adjustment:
        features = numeric_features(unit_features, list(settings.feature_columns))
    needed = experiments_needing_units(cells, settings, clustered, list(settings.binary_metrics), features)
    units, sampled = (None, False)
    if needed:
        units, sampled = bounded_units(only_experiments(unit_rows, needed), settings.max_unit_rows, settings.seed)
    return interaction_regressions_table(
        cells,
        experiments,
        list(settings.segment_columns),
        settings,
        units,
        sampled,
        clustered,
        list(settings.binary_metrics),
        features,
    )


def heterogeneity_tests_table(regressions, dimension_tests, settings: RegressionSettings) -> pd.DataFrame:
    """hte_heterogeneity_tests: the Wald joint tests of the regressions (adjusted per family) beside Cochran's Q
    of the SQL model hte_dimension_tests."""
    wald = heterogeneity_tests(to_pandas(regressions), settings.p_adjust, settings.p_adjust_family)
    cochran = to_pandas(dimension_tests).reindex(columns=TEST_COLUMNS)
    tests = pd.concat([wald, cochran], ignore_index=True)
    return tests.sort_values(["experiment_id", "metric", "arm", "dimension", "test"], ignore_index=True)
