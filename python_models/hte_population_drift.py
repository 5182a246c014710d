"""Per priced experiment x feature the deployed models use: population stability index and missingness of the
population against the experiment's units, the share outside the experiment's support, and the eligibility and
frequency-capped rates (hte_engine/targeting/population.py). Settings: python_models/population.yml."""

from hte_engine.progress import progress
from hte_engine.targeting import PopulationSettings, population_drift_table


def model(dbt, session):
    dbt.config(materialized="table")
    # A plain assignment: dbt finds the config keys a Python model reads by looking for this statement, and a
    # dbt.config.get nested in another call is not seen (the model would get an empty meta).
    meta = dbt.config.get("meta") or {}
    settings = PopulationSettings.from_meta(meta)
    return population_drift_table(
        dbt.ref("int_hte_population_units"),
        dbt.ref("hte_deployment_runs"),
        dbt.ref("stg_hte_unit_features"),
        dbt.ref("stg_hte_assignments"),
        dbt.ref("stg_hte_experiments"),
        settings,
        log=progress,
        session=session,
    )
