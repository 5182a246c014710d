"""Targeting in one pass per experiment: the deployed policy's decision for every unit and the doubly-robust value
of every policy (README and hte_engine/targeting/policy_value.py); hte_targeting_units and hte_policy_value are its
two parts. Settings: python_models/targeting.yml (vars hte_targeting_*)."""

from hte_engine.targeting import TargetingSettings, targeting_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    return targeting_table(
        dbt.ref("stg_hte_experiments"),
        dbt.ref("hte_cate_scores"),
        dbt.ref("hte_learner_evaluation"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_unit_features"),
        settings,
        session=session,
    )
