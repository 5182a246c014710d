"""The one evaluation pass of the uplift learners (docs/uplift.md): per comparison, every learner's Qini coefficient,
AUUC, uplift at k, AUTOC with bootstrap intervals, the BLP calibration test and the chosen learner; the curves with
their bands from the same bootstrap; the calibration deciles. hte_learner_evaluation, hte_uplift_curves and
hte_uplift_deciles are its three parts."""

from hte_engine.progress import progress
from hte_engine.uplift import UpliftSettings, uplift_evaluation_table


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    settings = UpliftSettings.from_meta(meta)
    return uplift_evaluation_table(
        dbt.ref("hte_cate_scores"),
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
    )
