"""hte_engine.io on Spark DataFrames, the type `dbt.ref()` returns to Python models on Databricks (and dbt-spark).

A local SparkSession (pip's pyspark, local mode, in-memory catalog) stands in for the cluster: the loader must give
the same pandas frame as from pandas itself, count without collecting, push experiment filters and the
cluster-keeping sample down to Spark, and return the same sample on every call.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from hte_engine import io
from spark_session import local_spark

pyspark_sql = pytest.importorskip("pyspark.sql")


@pytest.fixture(scope="module")
def spark():
    with local_spark("io", cores=1) as (session, _):
        yield session


def unit_rows(n_units: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "experiment_id": np.where(np.arange(n_units) % 4 == 0, "exp_b", "exp_a"),
            "unit_id": [f"u{i:05d}" for i in range(n_units)],
            "cluster_id": [f"c{i // 5:04d}" if i % 2 == 0 else None for i in range(n_units)],
            "arm": rng.choice(["control", "treatment"], size=n_units),
            "y": rng.normal(size=n_units),
            "n_orders": rng.integers(0, 5, size=n_units),
            "assigned_at": [datetime(2026, 3, 1, 12, 0, i % 60) for i in range(n_units)],
        }
    )


def as_spark(spark, frame: pd.DataFrame):
    """Built from Python rows with an explicit schema: pyspark 3.5's pandas conversion predates pandas 3."""
    from pyspark.sql import types as T

    schema = T.StructType(
        [
            T.StructField("experiment_id", T.StringType()),
            T.StructField("unit_id", T.StringType()),
            T.StructField("cluster_id", T.StringType()),
            T.StructField("arm", T.StringType()),
            T.StructField("y", T.DoubleType()),
            T.StructField("n_orders", T.LongType()),
            T.StructField("assigned_at", T.TimestampType()),
        ]
    )
    rows = [
        (
            r.experiment_id,
            r.unit_id,
            None if pd.isna(r.cluster_id) else r.cluster_id,
            r.arm,
            float(r.y),
            int(r.n_orders),
            r.assigned_at.to_pydatetime(),
        )
        for r in frame.itertuples(index=False)
    ]
    return spark.createDataFrame(rows, schema)


def test_to_pandas_reads_a_spark_dataframe_exactly(spark):
    frame = unit_rows()
    result = io.to_pandas(as_spark(spark, frame))
    assert isinstance(result, pd.DataFrame)
    assert list(result.columns) == list(frame.columns)
    result = result.sort_values("unit_id").reset_index(drop=True)
    assert result["unit_id"].tolist() == frame["unit_id"].tolist()
    assert result["cluster_id"].isna().tolist() == frame["cluster_id"].isna().tolist()
    np.testing.assert_array_equal(result["y"].to_numpy(dtype=float), frame["y"].to_numpy())  # doubles unchanged
    np.testing.assert_array_equal(result["n_orders"].to_numpy(dtype=np.int64), frame["n_orders"].to_numpy())
    assert pd.to_datetime(result["assigned_at"]).tolist() == frame["assigned_at"].tolist()


def test_row_count_and_experiment_filter_run_in_spark(spark):
    frame = unit_rows()
    relation = as_spark(spark, frame)
    assert io.row_count(relation) == len(frame)
    only_b = io.only_experiments(relation, ["exp_b"])
    assert not isinstance(only_b, pd.DataFrame)  # still a Spark DataFrame: the filter was pushed down
    assert sorted(io.to_pandas(only_b)["unit_id"]) == sorted(frame.loc[frame.experiment_id == "exp_b", "unit_id"])
    assert io.experiments_with_clusters(relation) == ["exp_a", "exp_b"]


def test_bounded_units_on_spark_keeps_whole_clusters_and_is_deterministic(spark):
    frame = unit_rows()
    relation = as_spark(spark, frame)
    everything, sampled = io.bounded_units(relation, max_rows=len(frame), seed=11)
    assert not sampled and len(everything) == len(frame)

    first, sampled = io.bounded_units(relation, max_rows=120, seed=11)
    again, _ = io.bounded_units(relation, max_rows=120, seed=11)
    assert sampled
    assert 40 < len(first) < 240  # a hash sample of about 120 rows (30 % of 400)
    assert sorted(first["unit_id"]) == sorted(again["unit_id"])
    kept = set(first["unit_id"])
    for cluster, members in frame.dropna(subset=["cluster_id"]).groupby("cluster_id")["unit_id"]:
        assert set(members) <= kept or not set(members) & kept, f"cluster {cluster} was split by the sample"
    other_seed, _ = io.bounded_units(relation, max_rows=120, seed=12)
    assert sorted(other_seed["unit_id"]) != sorted(first["unit_id"])
