"""Interaction regressions per experiment x metric x arm: exact from hte_cell_stats, from units where cells cannot.

Settings arrive through `config: meta:` (python_models/regressions.yml), filled from the hte_* vars; the engine
routes each experiment to cells or unit rows and reads only the unit rows it needs.
"""

from hte_engine.regression import RegressionSettings, interaction_regressions


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    return interaction_regressions(
        dbt.ref("hte_cell_stats"),
        dbt.ref("stg_hte_experiments"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        RegressionSettings.from_meta(meta),
    )
