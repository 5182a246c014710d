"""Who to treat, with which arm, for what expected net value: ``policies`` (economics and the assignment rules),
``policy_value`` (doubly-robust values and budget curves), ``segments`` (segment-level decisions), ``history``
(runs over time) and ``tables`` (what the experiment-level dbt Python models call); ``population`` and
``deployment`` carry the chosen policy to the whole population a team acts on.
"""

from hte_engine.targeting.deployment import deployment_runs_table
from hte_engine.targeting.history import HistoryRun, history_table, previous_runs, targeting_history_table
from hte_engine.targeting.population import (
    PopulationSettings,
    population_deployment_runs_table,
    population_drift_table,
    population_targeting_table,
)
from hte_engine.targeting.tables import (
    TargetingSettings,
    priced_experiment_ids,
    segments_table,
    targeting_segments_table,
    targeting_table,
)

__all__ = [
    "HistoryRun",
    "PopulationSettings",
    "TargetingSettings",
    "deployment_runs_table",
    "history_table",
    "population_deployment_runs_table",
    "population_drift_table",
    "population_targeting_table",
    "previous_runs",
    "priced_experiment_ids",
    "segments_table",
    "targeting_history_table",
    "targeting_segments_table",
    "targeting_table",
]
