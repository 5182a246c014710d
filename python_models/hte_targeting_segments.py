"""Per experiment x dimension x segment x treatment arm: the segment's lift with its interval, the economics,
and the decision (treat / hold / need more data). Settings: python_models/targeting.yml (vars hte_targeting_*)."""

from hte_engine.io import to_pandas
from hte_engine.targeting import TargetingSettings, priced_experiment_ids, segments_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    experiments = to_pandas(dbt.ref("stg_hte_experiments"))
    lifts = to_pandas(dbt.ref("hte_segment_lifts"))
    per_unit = any((extra or {}).get("benefit_column") for extra in (settings.economics or {}).values())
    units = to_pandas(dbt.ref("int_hte_model_units")) if per_unit else None
    features = to_pandas(dbt.ref("stg_hte_unit_features")) if per_unit else None
    # Only experiments that declare economics get decisions; the rest of the package does not need them.
    priced = experiments["experiment_id"].astype(str).isin(priced_experiment_ids(experiments))
    return segments_table(lifts, experiments[priced], settings, units, features,
                          list(meta.get("segment_columns") or []))
