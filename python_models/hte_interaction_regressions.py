"""Interaction regressions per experiment x metric x arm: exact from hte_cell_stats, from units where cells cannot.

Settings arrive through `config: meta:` (python_models/regressions.yml), filled from the hte_* vars.
"""

from hte_engine.io import bounded_units, experiments_with_clusters, numeric_features, only_experiments, to_pandas
from hte_engine.regression import RegressionSettings
from hte_engine.regression import experiments_needing_units, interaction_regressions_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = RegressionSettings.from_meta(meta)
    dimensions = list(meta.get("segment_columns") or [])
    binary_metrics = [name for name, spec in (meta.get("metrics") or {}).items() if spec.get("kind") == "binary"]

    cells = to_pandas(dbt.ref("hte_cell_stats"))
    experiments = to_pandas(dbt.ref("stg_hte_experiments"))
    unit_rows = dbt.ref("int_hte_model_units")
    clustered = experiments_with_clusters(unit_rows)
    features = None
    if settings.covariate_adjustment:
        features = numeric_features(dbt.ref("stg_hte_unit_features"), list(meta.get("feature_columns") or []))
    needed = experiments_needing_units(cells, settings, clustered, binary_metrics, features)
    units, sampled = (None, False)
    if needed:
        units, sampled = bounded_units(only_experiments(unit_rows, needed), settings.max_unit_rows, settings.seed)
    return interaction_regressions_table(
        cells, experiments, dimensions, settings, units, sampled, clustered, binary_metrics, features
    )
