"""Calibration lookup: per decile of predicted effect, the mean prediction against the observed
treated-minus-control difference and the mean doubly-robust score, with intervals."""

from hte_engine.io import to_pandas
from hte_engine.uplift_pipeline import UpliftSettings, evaluation_tables


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    settings = UpliftSettings.from_meta(meta)
    tables = evaluation_tables(
        to_pandas(dbt.ref("hte_cate_scores")),
        to_pandas(dbt.ref("int_hte_units")),
        to_pandas(dbt.ref("stg_hte_unit_features")),
        to_pandas(dbt.ref("stg_hte_assignments")),
        to_pandas(dbt.ref("stg_hte_experiments")),
        settings,
        parts=("deciles",),
    )
    return tables["deciles"]
