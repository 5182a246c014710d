"""Append-only history of targeting runs: per run date x experiment, the deployed policy's reach, spend, expected
value, score quantiles and population stability against the previous run, and each segment's lift by assignment
week (hte_engine/targeting/history.py). Rerunning on the same date replaces that date's rows and nothing else.
Settings: python_models/targeting.yml (var hte_run_date overrides the run date)."""

from hte_engine.io import existing_table
from hte_engine.targeting import TargetingSettings, targeting_history_table


def model(dbt, session):
    # delete+insert on (run_date, experiment_id): a rerun drops that date's rows of the experiment, then writes the
    # new ones, so stale rows cannot survive and earlier dates are never touched.
    dbt.config(
        materialized="incremental",
        incremental_strategy="delete+insert",
        unique_key=["run_date", "experiment_id"],
        on_schema_change="append_new_columns",
    )
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    return targeting_history_table(
        dbt.ref("hte_targeting_units"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        existing_table(session, dbt.this) if dbt.is_incremental else None,
        settings,
    )
