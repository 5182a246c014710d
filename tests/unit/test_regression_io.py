"""hte_engine.io: relations into pandas, and the bounded unit sample that keeps whole clusters."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from hte_engine.io import bounded_units, experiments_with_clusters, numeric_features, only_experiments, to_pandas


@pytest.fixture()
def units() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 20000
    cluster = rng.integers(0, 500, n).astype(str)
    frame = pd.DataFrame({"experiment_id": np.where(np.arange(n) < 15000, "clustered", "plain"),
                          "unit_id": [f"u{i}" for i in range(n)], "metric": "m", "y": rng.normal(size=n)})  # fmt: skip
    frame["cluster_id"] = pd.Series(cluster, dtype=object).where(frame["experiment_id"] == "clustered", None)
    return frame


@pytest.mark.parametrize("kind", ["pandas", "duckdb"])
def test_sample_is_bounded_deterministic_and_keeps_clusters_whole(units: pd.DataFrame, kind: str) -> None:
    con = duckdb.connect()
    con.register("units_view", units)
    relation = units if kind == "pandas" else con.sql("select * from units_view")
    sample, sampled = bounded_units(relation, 5000, seed=3)
    again, _ = bounded_units(relation if kind == "pandas" else con.sql("select * from units_view"), 5000, seed=3)
    assert sampled
    assert 3500 < len(sample) < 6500, "the hash sample keeps about max_rows rows"
    assert sorted(sample["unit_id"]) == sorted(again["unit_id"]), "the same seed gives the same sample"
    clustered = sample[sample["cluster_id"].notna()]
    sizes = units[units["cluster_id"].notna()].groupby("cluster_id").size()
    kept = clustered.groupby("cluster_id").size()
    assert (kept == sizes[kept.index]).all(), "a sampled cluster keeps every one of its units"


def test_small_relation_is_read_whole_and_filters_push_down(units: pd.DataFrame) -> None:
    con = duckdb.connect()
    con.register("units_view", units)
    relation = con.sql("select * from units_view")
    frame, sampled = bounded_units(only_experiments(relation, ["plain"]), 10_000, seed=1)
    assert not sampled and len(frame) == 5000 and set(frame["experiment_id"]) == {"plain"}
    assert experiments_with_clusters(con.sql("select * from units_view")) == ["clustered"]
    assert experiments_with_clusters(units) == ["clustered"]
    pd.testing.assert_frame_equal(to_pandas(units), units)


def test_unknown_relation_type_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="cannot read a relation of type list"):
        to_pandas([1, 2, 3])


@pytest.mark.parametrize("kind", ["pandas", "duckdb"])
def test_numeric_features_keep_only_configured_numeric_columns(kind: str) -> None:
    features = pd.DataFrame({"experiment_id": [None, "e1"], "unit_id": ["u1", "u2"], "tenure": [3, 5],
                             "score": [0.5, None], "device": ["ios", "web"], "unlisted": [1.0, 2.0]})  # fmt: skip
    con = duckdb.connect()
    con.register("features_view", features)
    relation = features if kind == "pandas" else con.sql("select * from features_view")
    frame = numeric_features(relation, ["device", "tenure", "score", "not_a_column"])
    assert list(frame.columns) == ["experiment_id", "unit_id", "tenure", "score"]
    assert frame["tenure"].tolist() == [3, 5] and frame["experiment_id"].isna().tolist() == [True, False]
    assert numeric_features(relation, ["device"]) is None
