"""dbt_hte's statistics engine: the Python half of the package.

SQL in the warehouse reduces unit rows to sufficient statistics; this package does the statistics that SQL cannot
(regressions, uplift learners, evaluation, targeting) and is importable and testable without dbt.
"""

# dbt-duckdb runs two Python models at once, in threads of the dbt process, and each model imports the engine's
# dependencies on its first run. Two threads importing one circular third-party package at the same moment can
# deadlock; Python detects it and fails a model with _DeadlockError (seen: scikit-learn's narwhals.stable.v1 while
# hte_cate_scores and another model started together). Every model imports this package first, and Python
# serialises that import, so the whole stack is imported here once, by one thread; later imports are lookups.
# It costs about two seconds of the first import (tests/unit/test_packaging.py checks the stack is loaded).
import numpy  # noqa: F401
import pandas  # noqa: F401
import scipy.linalg  # noqa: F401
import scipy.stats  # noqa: F401
import sklearn.ensemble  # noqa: F401
import sklearn.inspection  # noqa: F401
import sklearn.isotonic  # noqa: F401
import sklearn.model_selection  # noqa: F401
import sklearn.tree  # noqa: F401
import statsmodels.api  # noqa: F401
import statsmodels.stats.meta_analysis  # noqa: F401
import statsmodels.stats.multitest  # noqa: F401

__version__ = "0.1.0"
