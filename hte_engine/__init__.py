"""dbt_hte's statistics engine: the Python half of the package.

SQL in the warehouse reduces unit rows to sufficient statistics; this package does the statistics that SQL cannot
(regressions, uplift learners, evaluation, targeting) and is importable and testable without dbt.
"""

__version__ = "0.1.0"
