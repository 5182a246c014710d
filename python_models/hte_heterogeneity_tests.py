"""Is there heterogeneity at all? Joint tests per experiment x metric x arm x dimension, adjusted per family.

The Wald tests come from hte_interaction_regressions (rows with role 'joint_test'; they need the full
covariance matrix, which only the fit has), Cochran's Q from the SQL model hte_dimension_tests.
"""

from hte_engine.regression import RegressionSettings, heterogeneity_tests_table


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt ships a config value to a Python model only when the model reads it in a plain assignment like this one.
    meta = dbt.config.get("meta") or {}
    return heterogeneity_tests_table(
        dbt.ref("hte_interaction_regressions"), dbt.ref("hte_dimension_tests"), RegressionSettings.from_meta(meta)
    )
