"""Out-of-fold effect scores of every configured uplift learner, per experiment x metric x treatment arm x unit.

The only model that fits learners: every other uplift model reads these scores. Each row also carries the
nuisances behind the unit's doubly-robust score (propensity, mu0, mu1, dr_score), for evaluation and policy value.
"""

from hte_engine.progress import progress
from hte_engine.uplift import UpliftSettings, cate_scores


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    settings = UpliftSettings.from_meta(meta)
    return cate_scores(
        dbt.ref("int_hte_model_units"),
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
        session=session,
    )
