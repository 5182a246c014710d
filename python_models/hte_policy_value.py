"""Per experiment x policy: doubly-robust incremental net value (out of fold) with bootstrap interval, against
treat-none, treat-all and random at the same budget; rows of policy 'budget_curve' trace value against spend.
Settings: python_models/targeting.yml (vars hte_targeting_*)."""

from hte_engine.targeting_tables import TargetingSettings, policy_value_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    return policy_value_table(
        dbt.ref("stg_hte_experiments"),
        dbt.ref("hte_cate_scores"),
        dbt.ref("hte_learner_evaluation"),
        dbt.ref("int_hte_units"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_unit_features"),
        settings,
        meta,
    )
