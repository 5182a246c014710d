"""Per experiment x policy: doubly-robust incremental net value (out of fold) with bootstrap interval, against
treat-none, treat-all and random at the same budget; rows of policy 'budget_curve' trace value against spend.
Settings: python_models/targeting.yml (vars hte_targeting_*)."""

import pandas as pd

from hte_engine.io import to_pandas
from hte_engine.targeting_tables import TargetingSettings, chosen_scores, priced_experiments_targeting


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = TargetingSettings.from_meta(meta)
    binary = {name for name, spec in (meta.get("metrics") or {}).items() if spec.get("kind") == "binary"}
    experiments = to_pandas(dbt.ref("stg_hte_experiments"))
    scores = chosen_scores(to_pandas(dbt.ref("hte_cate_scores")), to_pandas(dbt.ref("hte_learner_evaluation")),
                           settings.learner)
    units = to_pandas(dbt.ref("int_hte_units"))
    assignments = to_pandas(dbt.ref("stg_hte_assignments"))
    features = to_pandas(dbt.ref("stg_hte_unit_features"))
    frames = [result.policy_value for result in priced_experiments_targeting(
        experiments, scores, units, assignments, features, settings, list(meta.get("feature_columns") or []),
        binary, evaluate=True)]
    if not frames:
        # No experiment has out-of-fold scores yet (hte_cate_scores is empty): an empty table, not a failure.
        return pd.DataFrame(columns=["experiment_id", "policy", "policy_kind", "value", "ci_low", "ci_high",
                                     "n_treated", "cost", "is_deployed", "score_source", "dr_source"])
    return pd.concat(frames, ignore_index=True)
