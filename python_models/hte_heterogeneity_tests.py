"""Is there heterogeneity at all? Joint tests per experiment x metric x arm x dimension, adjusted per family.

The Wald tests come from hte_interaction_regressions (rows with role 'joint_test'; they need the full
covariance matrix, which only the fit has), Cochran's Q from the SQL model hte_dimension_tests.
"""

import pandas as pd

from hte_engine.io import to_pandas
from hte_engine.regression import TEST_COLUMNS, RegressionSettings, heterogeneity_tests


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes meta to a Python model only when read as `dbt.config.get("meta")` in a statement of its own
    meta = dbt.config.get("meta") or {}
    settings = RegressionSettings.from_meta(meta)
    wald = heterogeneity_tests(
        to_pandas(dbt.ref("hte_interaction_regressions")), settings.p_adjust, settings.p_adjust_family
    )
    cochran = to_pandas(dbt.ref("hte_dimension_tests"))
    tests = pd.concat([wald, cochran.reindex(columns=TEST_COLUMNS)], ignore_index=True)
    return tests.sort_values(["experiment_id", "metric", "arm", "dimension", "test"], ignore_index=True)
