"""Per population unit x priced experiment: the arm to give (control = do nothing), predicted effects, expected net
value, decision and the reason in words, and the policy-test group, scored in batches with the stored deployment
models (hte_engine/targeting/population.py). Settings: python_models/population.yml."""

from hte_engine.progress import progress
from hte_engine.targeting import PopulationSettings, population_targeting_table


def model(dbt, session):
    dbt.config(materialized="table")
    # A plain assignment: dbt finds the config keys a Python model reads by looking for this statement, and a
    # dbt.config.get nested in another call is not seen (the model would get an empty meta).
    meta = dbt.config.get("meta") or {}
    settings = PopulationSettings.from_meta(meta)
    return population_targeting_table(
        dbt.ref("int_hte_population_units"),
        dbt.ref("hte_deployment_runs"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
        session=session,
        # Read only with var hte_population_calibration: deciles; referenced always so dbt orders the models.
        deciles=dbt.ref("hte_uplift_deciles"),
    )
