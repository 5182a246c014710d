"""Per experiment x metric x treatment arm of the priced experiments: the chosen learner refitted on all of the
experiment's units (not out of fold: hte_cate_scores stays the evaluation), with the run date, training rows, a
fingerprint of the training data, the package version, the feature support and the fitted model, so a population
decision traces to the model that made it (hte_engine/targeting/deployment.py). Empty while var
hte_targeting_population is unset: nothing would use the fits. Settings: python_models/population.yml."""

from hte_engine.progress import progress
from hte_engine.targeting import PopulationSettings, population_deployment_runs_table


def model(dbt, session):
    dbt.config(materialized="table")
    meta = dbt.config.get("meta") or {}
    settings = PopulationSettings.from_meta(meta)
    return population_deployment_runs_table(
        dbt.ref("int_hte_model_units"),  # the unit table the other Python models read (a table, not the view)
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        dbt.ref("hte_learner_evaluation"),
        settings,
        log=progress,
        session=session,
    )
