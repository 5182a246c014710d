"""Per experiment x unit: the arm the deployed policy gives (control = do nothing), its expected net value, the
decision and, when not treated, the reason in words. Settings: python_models/targeting.yml (vars hte_targeting_*)."""

from hte_engine.targeting_tables import TargetingSettings, targeting_units_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    return targeting_units_table(
        dbt.ref("stg_hte_experiments"),
        dbt.ref("hte_cate_scores"),
        dbt.ref("hte_learner_evaluation"),
        dbt.ref("int_hte_units"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_unit_features"),
        settings,
        meta,
        session=session,
    )
