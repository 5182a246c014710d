"""Uplift learners and their honest evaluation, one comparison (experiment × metric × arm) at a time.

``tables`` plans the comparisons from warehouse counts and is what the dbt Python models call: ``cate_scores``
fits (``crossfit`` of the ``learners`` with ``propensity`` and ``features``, guarded by ``balance``), and every
other table reads the stored scores back — ``evaluation`` (Qini/AUUC ``metrics``, ``calibration``, bootstrap from
``hte_engine.resampling``) and ``discovery`` (segments and effect drivers).
"""

from hte_engine.uplift.tables import (
    ComparisonPlan,
    UpliftSettings,
    cate_scores,
    discovered_segments,
    effect_drivers_table,
    evaluation_schemas,
    evaluation_tables,
    iter_cate_scores,
    iter_comparisons,
    plan_comparisons,
    uplift_evaluation_table,
)

__all__ = [
    "ComparisonPlan",
    "UpliftSettings",
    "cate_scores",
    "discovered_segments",
    "effect_drivers_table",
    "evaluation_schemas",
    "evaluation_tables",
    "iter_cate_scores",
    "iter_comparisons",
    "plan_comparisons",
    "uplift_evaluation_table",
]
