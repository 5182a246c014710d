"""hte_population_targeting where dbt.ref() returns Spark DataFrames (Databricks): the models are shipped to the
executors with mapInPandas and the population is scored there, never collected to the driver. On local pyspark,
one million population units give the same rows as the pandas path (issue 15, item 6)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from hte_engine.demo.population import generate_population
from hte_engine.targeting.deployment import fit_deployment
from hte_engine.targeting.population import POPULATION_COLUMNS, PopulationSettings, population_targeting_table
from hte_engine.uplift.tables import ComparisonPlan, UpliftSettings
from population_inputs import deployed_run
from spark_session import local_spark

pyspark_sql = pytest.importorskip("pyspark.sql")

SEEDS = Path(__file__).resolve().parents[2] / "seeds" / "demo"
N_UNITS = 1_000_000


@pytest.fixture(scope="module")
def spark():
    with local_spark("population", cores=2, **{"spark.driver.memory": "2g"}) as (session, warehouse):
        yield session, warehouse


def coupon_runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    """hte_deployment_runs and stg_hte_experiments for the demo's coupon_push, fitted here (T-learner)."""
    features = pd.read_csv(SEEDS / "hte_demo_unit_features.csv")
    assignments = pd.read_csv(SEEDS / "hte_demo_assignments.csv")
    outcomes = pd.read_csv(SEEDS / "hte_demo_outcomes.csv")
    experiments = pd.read_csv(SEEDS / "hte_demo_experiments.csv")
    experiments = experiments[experiments["experiment_id"] == "coupon_push"]
    units = (
        assignments[assignments["experiment_id"] == "coupon_push"]
        .merge(outcomes[outcomes["metric"] == "purchase"][["unit_id", "value"]], on="unit_id", how="left")
        .merge(features[["unit_id", "customer_type", "visits_per_month", "tenure_days", "device"]], on="unit_id")
    )
    units = units.assign(
        y=units["value"].fillna(0.0), treated=(units["arm"] == "coupon").astype(int), cluster_id=None, propensity=np.nan
    )
    plan = ComparisonPlan(
        "coupon_push",
        "purchase",
        "coupon",
        "control",
        True,
        int(units["treated"].sum()),
        int((1 - units["treated"]).sum()),
        0.5,
        0.5,
        2,
    )
    plan.features_used = ["customer_type", "visits_per_month", "tenure_days", "device"]
    plan.units = units
    fit = fit_deployment(plan, "t", UpliftSettings(feature_columns=tuple(plan.features_used)))
    runs = deployed_run(fit.deployment, "coupon_push", "purchase", "coupon")
    return runs, experiments


def test_spark_scoring_equals_the_pandas_path_on_a_million_units(spark, tmp_path):
    session, _ = spark
    runs, experiments = coupon_runs()
    population, _ = generate_population(N_UNITS, seed=11)
    population = population.assign(
        is_eligible=population["tenure_days"] >= 60,
        ineligible_reason=np.where(population["tenure_days"] >= 60, None, "too new"),
        is_frequency_capped=False,
        n_recent_contacts=0,
        batch_id=np.arange(N_UNITS) // 200_000,
    )
    settings = PopulationSettings.from_meta(
        {
            "run_date": "2026-04-01",
            "targeting_economics": {"coupon_push": {"benefit_column": "margin"}},
            "population_holdout_share": 0.05,
            "population_exploration_share": 0.05,
        }
    )

    expected = population_targeting_table(population, runs, experiments, settings)

    path = tmp_path / "population.parquet"
    with duckdb.connect() as con:
        con.register("frame", population.drop(columns=["batch_id"]))
        con.execute(f"copy frame to '{path}' (format parquet)")
    spark_population = session.read.parquet(str(path))
    scored = population_targeting_table(spark_population, runs, experiments, settings)
    assert type(scored).__module__.startswith("pyspark"), "Spark in, Spark out: nothing collected to the driver"
    out = tmp_path / "scored"
    scored.write.parquet(str(out))
    with duckdb.connect() as con:
        got = con.execute(f"select * from read_parquet('{out}/*.parquet')").df()

    assert len(got) == N_UNITS == len(expected)
    assert list(got.columns) == list(POPULATION_COLUMNS)
    got = got.sort_values("unit_id", ignore_index=True)
    expected = expected.sort_values("unit_id", ignore_index=True)
    for column, dtype in POPULATION_COLUMNS.items():
        if dtype == "float64":
            np.testing.assert_allclose(
                got[column].to_numpy(dtype=float),
                expected[column].to_numpy(dtype=float),
                rtol=0,
                atol=1e-12,
                equal_nan=True,
                err_msg=column,
            )
        else:
            left = got[column].astype(object).where(got[column].notna(), None).tolist()
            right = expected[column].astype(object).where(expected[column].notna(), None).tolist()
            assert left == right, column
    assert set(expected["decision"]) == {"treat", "hold", "holdout", "explore"}
