"""Per experiment x dimension x segment x treatment arm: the segment's lift with its interval, the economics,
and the decision (treat / hold / need more data). Settings: python_models/targeting.yml (vars hte_targeting_*)."""

from hte_engine.targeting import TargetingSettings, targeting_segments_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    return targeting_segments_table(
        dbt.ref("hte_segment_lifts"),
        dbt.ref("stg_hte_experiments"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        settings,
    )
