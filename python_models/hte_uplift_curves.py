"""Qini, uplift and TOC curves of every learner on a fixed grid of fractions targeted, with bootstrap bands."""

from hte_engine.io import to_pandas
from hte_engine.progress import progress
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
        parts=("curves",),
        log=progress,
    )
    return tables["curves"]
