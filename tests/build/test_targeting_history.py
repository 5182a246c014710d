"""hte_targeting_history: population stability against closed forms, segment-week lifts against statsmodels, and
the incremental model built on the demo: a rerun on the same date rewrites the same rows, a new date appends."""

from __future__ import annotations

import json
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from dbt_runner import run_dbt
from hte_engine.targeting.history import (
    ROW_RUN,
    HistoryRun,
    bin_shares,
    decile_bins,
    history_rows,
    population_stability,
    run_summary,
    segment_week_lifts,
)


def test_psi_closed_form():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5), by hand.
    expected = -0.25 * np.log(0.5) + 0.25 * np.log(1.5)
    assert population_stability([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected, abs=1e-12)
    assert population_stability([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_psi_of_a_shifted_normal_approaches_the_jeffreys_divergence():
    # PSI on bins is the binned Jeffreys divergence, at most the continuous one (data-processing inequality):
    # for N(0, 1) against N(1, 1) that is exactly 1. Decile bins keep most of it; the same distribution gives ~0.
    rng = np.random.default_rng(3)
    before = rng.normal(size=50_000)
    edges, shares = decile_bins(before)
    assert np.allclose(shares, 0.1, atol=1e-3)
    same = population_stability(shares, bin_shares(rng.normal(size=50_000), edges))
    shifted = population_stability(shares, bin_shares(rng.normal(1.0, 1.0, size=50_000), edges))
    assert same < 0.005
    assert 0.75 < shifted < 1.02


def test_tied_scores_merge_deciles_and_keep_their_true_shares():
    # A constant learner gives most units one score: the deciles collapse, and the stored shares say so.
    scores = np.r_[np.zeros(900), np.linspace(1, 2, 100)]
    edges, shares = decile_bins(scores)
    assert len(edges) < 11 and sum(shares) == pytest.approx(1.0)
    assert shares[0] == pytest.approx(0.9)
    assert population_stability(shares, bin_shares(scores, edges)) == 0.0


def _units_table(n=1000, seed=0, shift=0.0, arms=("a", "b")):
    rng = np.random.default_rng(seed)
    best = rng.normal(shift, 1.0, n)
    chosen = np.where(best > 0, rng.choice(arms, n), "control")
    cost = np.where(chosen == "control", 0.0, 0.1)
    return pd.DataFrame(
        {
            "experiment_id": "exp",
            "unit_id": [f"u{i}" for i in range(n)],
            "policy": "threshold",
            "chosen_arm": chosen,
            "expected_net_value": np.where(chosen == "control", 0.0, best),
            "expected_cost": cost,
            "decision": np.where(chosen == "control", "hold", "treat"),
            "reason": None,
            "is_exploration": False,
            "best_net_value": best,
        }
    )


def test_run_summary_counts_spend_and_value_and_compares_with_the_previous_run():
    units = _units_table()
    first = run_summary(units, None, {"exp": "control"}).iloc[0]
    assert first["n_treated"] == (units["chosen_arm"] != "control").sum()
    assert first["fraction_treated"] == pytest.approx((units["chosen_arm"] != "control").mean())
    assert first["spend"] == pytest.approx(units["expected_cost"].sum())
    assert first["expected_value"] == pytest.approx(units["expected_net_value"].sum())
    assert first["score_q50"] == pytest.approx(np.median(units["best_net_value"]))
    assert "psi" not in first or pd.isna(first.get("psi"))

    previous = pd.DataFrame([{**first.to_dict(), "run_date": pd.Timestamp("2026-01-01")}])
    again = run_summary(units, previous, {"exp": "control"}).iloc[0]
    assert again["psi"] == 0.0
    moved = run_summary(_units_table(seed=1, shift=1.0), previous, {"exp": "control"}).iloc[0]
    expected = population_stability(
        json.loads(first["score_decile_shares"]),
        bin_shares(_units_table(seed=1, shift=1.0)["best_net_value"], json.loads(first["score_decile_edges"])),
    )
    assert moved["psi"] == pytest.approx(expected, abs=1e-12) and moved["psi"] > 0.25
    assert moved["psi_previous_run_date"] == pd.Timestamp("2026-01-01")


def _cohorts(seed=5):
    rng = np.random.default_rng(seed)
    n = 2400
    week = rng.choice(["2026-03-02 10:00", "2026-03-11 09:00"], n)  # a Monday and the next week's Wednesday
    arm = rng.choice(["control", "coupon"], n)
    segment = rng.choice(["x", "y"], n)
    y = rng.normal(1.0 + 0.5 * ((arm == "coupon") & (segment == "x")), 1.0 + (arm == "coupon"))
    unit_id = [f"u{i}" for i in range(n)]
    units = pd.DataFrame(
        {
            "experiment_id": "exp",
            "unit_id": unit_id,
            "arm": arm,
            "metric": "m",
            "y": y,
            "kind": segment,
            "empty": "(missing)",
        }
    )
    assignments = pd.DataFrame({"experiment_id": "exp", "unit_id": unit_id, "assigned_at": pd.to_datetime(week)})
    experiments = pd.DataFrame(
        {"experiment_id": "exp", "arm": ["control", "coupon"], "is_control": [True, False], "target_metric": "m"}
    )
    return units, assignments, experiments


def test_segment_week_lifts_match_statsmodels_welch():
    units, assignments, experiments = _cohorts()
    table = segment_week_lifts(units, assignments, experiments, ["kind", "empty"], alpha=0.05)
    assert set(table["dimension"]) == {"kind"}  # the all-missing dimension is not a segmentation of this experiment
    assert sorted(table["assignment_week"].astype(str).unique()) == ["2026-03-02", "2026-03-09"]
    week_of = assignments.set_index("unit_id")["assigned_at"].dt.to_period("W-SUN").dt.start_time
    for row in table.itertuples():
        cohort = units[(units["kind"] == row.segment) & (units["unit_id"].map(week_of) == row.assignment_week)]
        t = cohort.loc[cohort["arm"] == "coupon", "y"].to_numpy()
        c = cohort.loc[cohort["arm"] == "control", "y"].to_numpy()
        cm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
        low, high = cm.zconfint_diff(alpha=0.05, usevar="unequal")
        assert row.lift == pytest.approx(t.mean() - c.mean(), abs=1e-12)
        assert row.lift_se == pytest.approx(cm.std_meandiff_separatevar, rel=1e-10)
        assert (row.lift_ci_low, row.lift_ci_high) == pytest.approx((low, high), rel=1e-10)
        assert (row.n_treatment, row.n_control) == (len(t), len(c))


def test_history_rows_are_the_same_for_the_same_date_and_keyed_uniquely():
    units, assignments, experiments = _cohorts()
    table = _units_table().assign(experiment_id="exp")
    args = (table, None, units, assignments, experiments)
    first = history_rows(HistoryRun.of("2026-04-01", "2026-04-01T06:00:00Z", ["kind"]), *args)
    second = history_rows(HistoryRun.of("2026-04-01", "2026-04-01T18:30:00Z", ["kind"]), *args)
    pd.testing.assert_frame_equal(first.drop(columns="run_at"), second.drop(columns="run_at"))
    assert not first.duplicated(["run_date", "experiment_id", "row_key"]).any()
    assert (first["row_type"] == ROW_RUN).sum() == 1


def _history(result):
    frame = result.table("hte_targeting_history")
    frame["run_date"] = pd.to_datetime(frame["run_date"]).dt.date.astype(str)
    return frame.sort_values(["run_date", "experiment_id", "row_key"]).reset_index(drop=True)


def test_history_model_is_idempotent_per_date_and_appends_new_dates(demo_build, tmp_path):
    # Work on a copy of the demo warehouse so the session's build stays as it was for other tests.
    history_runs = []
    for i, run_date in enumerate(["2099-01-01", "2099-01-01", "2099-01-08"]):
        workdir = tmp_path / f"run{i}"
        workdir.mkdir()
        shutil.copy(history_runs[-1].db_path if history_runs else demo_build.db_path, workdir / "hte.duckdb")
        result = run_dbt(["run", "--select", "hte_targeting_history"], workdir, vars={"hte_run_date": run_date})
        assert result.ok, result.output[-4000:]
        history_runs.append(result)
    built, rerun, later = (_history(r) for r in history_runs)
    earlier = built[built["run_date"] != "2099-01-01"]
    assert len(earlier) > 0  # the demo build's own run (today) is kept by every later run
    assert (built["run_date"] == "2099-01-01").any()
    pd.testing.assert_frame_equal(built.drop(columns="run_at"), rerun.drop(columns="run_at"))
    assert len(later) == len(rerun) + (rerun["run_date"] == "2099-01-01").sum()
    kept = later[later["run_date"] != "2099-01-08"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept.drop(columns="run_at"), rerun.drop(columns="run_at"))
    runs = later[(later["row_type"] == ROW_RUN) & (later["run_date"] == "2099-01-08")]
    assert set(runs["experiment_id"]) == set(demo_build.table("hte_targeting_units")["experiment_id"])
    # Same data a week later: nothing moved, and the stability index says so against 2099-01-01.
    assert (runs["psi"] == 0.0).all()
    assert (pd.to_datetime(runs["psi_previous_run_date"]).dt.date.astype(str) == "2099-01-01").all()
    assert not later.duplicated(["run_date", "experiment_id", "row_key"]).any()
    # dbt-duckdb's incremental Python materialization leaves <model>__dbt_tmp<timestamp> tables; the model's
    # post-hook (macros/materialization/hte_drop_leftover_temporaries.sql) drops them.
    with duckdb.connect(str(history_runs[-1].db_path), read_only=True) as con:
        leftovers = con.execute(
            "select table_name from information_schema.tables where table_name like '%dbt_tmp%'"
        ).fetchall()
    assert leftovers == []


def test_previous_runs_are_the_latest_run_rows_before_the_run_date_per_experiment():
    from hte_engine.targeting.history import previous_runs

    history = pd.DataFrame(
        {
            "run_date": pd.to_datetime(
                ["2026-01-01", "2026-01-08", "2026-01-15", "2026-01-01", "2026-01-08", "2026-01-01"]
            ),
            "experiment_id": ["a", "a", "a", "b", "b", "a"],
            "row_type": [ROW_RUN, ROW_RUN, ROW_RUN, ROW_RUN, ROW_RUN, "segment_week"],
            "psi": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    got = previous_runs(history, "2026-01-15")
    assert list(zip(got["experiment_id"], got["psi"])) == [("a", 2.0), ("b", 5.0)]
    assert previous_runs(history, "2026-01-01").empty
