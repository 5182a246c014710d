"""hte_segment_stats on the demo equals pandas' group-by of the unit rows (counts exact, floats to 1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd

import reference as ref


def test_segment_stats_match_pandas(demo_build):
    ref.assert_agrees(ref.compare_built_mart(demo_build, ref.demo_reference(), "hte_segment_stats"))


def test_reference_unit_table_counts_every_assigned_unit_once_per_metric():
    # The reference's own bookkeeping: a unit without an outcome row still counts (as 0), once per metric of
    # its experiment, and the overall row of every arm holds all of the arm's assigned units.
    frames = ref.demo_inputs()
    stats = ref.demo_reference()["hte_segment_stats"]
    overall = stats[stats["dimension"] == "overall"]
    assigned = frames["assignments"].groupby(["experiment_id", "arm"]).size().rename("assigned").reset_index()
    joined = overall.merge(assigned, on=["experiment_id", "arm"], validate="many_to_one")
    assert (joined["n"] == joined["assigned"]).all()
    metrics = frames["outcomes"].groupby("experiment_id")["metric"].unique()
    for experiment_id, names in metrics.items():
        assert set(overall.loc[overall["experiment_id"] == experiment_id, "metric"]) == set(names)


def test_reference_segment_rows_sum_to_the_overall_row():
    stats = ref.demo_reference()["hte_segment_stats"]
    keys = ["experiment_id", "metric", "arm"]
    overall = stats[stats["dimension"] == "overall"].set_index(keys)
    for dimension, part in stats[stats["dimension"] != "overall"].groupby("dimension"):
        summed = part.groupby(keys)[["n", "sum_y", "sum_y2"]].sum()
        np.testing.assert_allclose(
            summed.to_numpy(float),
            overall.loc[summed.index, ["n", "sum_y", "sum_y2"]].to_numpy(float),
            rtol=1e-12,
            err_msg=f"dimension {dimension}",
        )


def test_unobserved_dimensions_have_no_stats(demo_build):
    # coupon_push has no history_segment or engagement_band; email_campaign has no customer_type.
    stats = demo_build.table("hte_segment_stats")
    levels = ref.demo_reference()["levels"]
    unobserved = levels.loc[~levels["is_observed"], ["experiment_id", "dimension"]].drop_duplicates()
    assert len(unobserved) > 0
    merged = stats.merge(unobserved, on=["experiment_id", "dimension"])
    assert merged.empty, merged[["experiment_id", "dimension"]].drop_duplicates().to_dict("records")
    assert pd.Series(stats["segment"]).ne("(missing)").all()
