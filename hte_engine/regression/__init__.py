"""Interaction regressions and heterogeneity tests: treatment × segment regressions fitted on cell sufficient
statistics (``cells``, ``covariance``), or on unit rows where cells cannot carry the model (``units``: clusters,
Lin's covariate adjustment, logit), with empirical-Bayes shrinkage of the segment effects (``shrinkage``).

``interactions`` builds the design and the rows; ``tables`` routes each experiment to cells or unit rows and is
what the dbt Python models call.
"""

from hte_engine.regression.interactions import (
    REGRESSION_COLUMNS,
    TEST_COLUMNS,
    RegressionSettings,
    heterogeneity_tests,
    interaction_regressions_from_cells,
)
from hte_engine.regression.tables import (
    experiments_needing_units,
    heterogeneity_tests_table,
    interaction_regressions,
    interaction_regressions_table,
)

__all__ = [
    "REGRESSION_COLUMNS",
    "TEST_COLUMNS",
    "RegressionSettings",
    "experiments_needing_units",
    "heterogeneity_tests",
    "heterogeneity_tests_table",
    "interaction_regressions",
    "interaction_regressions_from_cells",
    "interaction_regressions_table",
]
