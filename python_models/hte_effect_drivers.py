"""Which features drive the chosen learner's estimated effects: permutation importance per experiment x metric x
treatment arm x feature."""

from hte_engine.progress import progress
from hte_engine.uplift import UpliftSettings, effect_drivers_table


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    settings = UpliftSettings.from_meta(meta)
    return effect_drivers_table(
        dbt.ref("hte_cate_scores"),
        dbt.ref("hte_learner_evaluation"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
    )
