"""Data-driven segments as readable rules: an honest shallow tree grown on one half of the units' doubly-robust
scores and estimated on the other, with multiplicity-adjusted p-values."""

from hte_engine.progress import progress
from hte_engine.uplift import UpliftSettings, discovered_segments


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    settings = UpliftSettings.from_meta(meta)
    return discovered_segments(
        dbt.ref("hte_cate_scores"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
    )
