"""Honest discovered segments and effect drivers, on simulated truth and on the Hillstrom e-mail experiment."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dbt_runner import HILLSTROM_CSV, HILLSTROM_MISSING, hillstrom_present
from fixtures import ab_experiment
from hte_engine.resampling import bounded_sample
from hte_engine.uplift.crossfit import CrossFitConfig, cross_fit
from hte_engine.uplift.discovery import discover_segments, effect_drivers
from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners
from hte_engine.uplift.features import prepare_features
from test_learners import FAST, in_unit_order, run, simulate

HILLSTROM = HILLSTROM_CSV


def test_honest_leaves_recover_the_true_segment_effects():
    ids, frame, y, t, tau = simulate(6000, 31)
    result = run(ids, frame, y, t, learners=("constant",))
    features = frame.set_index(pd.Index(ids)).sort_index().reset_index(drop=True)
    table = discover_segments(
        features, result.units.dr_score, result.units.treated, max_depth=2, min_leaf_size=300, seed=2
    )
    assert table.rule.str.contains("score").any() and table.rule.str.contains("device").any()
    truth = in_unit_order(ids, tau)
    # The honest estimate of each leaf is within 3.5 standard errors of the leaf's true mean effect.
    for _, row in table.iterrows():
        mask = _leaf_members(features, row.rule)
        assert abs(row.effect - truth[mask].mean()) < 3.5 * row.effect_se, row.rule
    assert (table.p_value_adj >= table.p_value - 1e-15).all()
    drivers = effect_drivers(prepare_features(features, ["tenure", "score", "device"]), truth, seed=0)
    assert drivers.feature.iloc[0] == "score" and drivers.set_index("feature").loc["tenure", "importance"] < 0.05


def test_effect_drivers_on_a_bounded_hash_sample_match_the_drivers_on_every_unit():
    """hte_effect_drivers fits its surrogate on at most hte_uplift_driver_max_units units: on 40,000 units with a
    planted driver, a 10,000-unit sample ranks the features as the full data does, within 0.03 of R^2."""
    ids, frame, y, t, tau = simulate(40000, 7)
    features = prepare_features(frame.reset_index(drop=True), ["tenure", "score", "device"])
    full = effect_drivers(features, tau, seed=0).set_index("feature")
    keep = bounded_sample(pd.Series(ids), 10000, seed=0)
    assert 9000 < keep.sum() < 11000
    assert (keep == bounded_sample(pd.Series(ids), 10000, seed=0)).all()  # deterministic
    assert (keep[np.argsort(ids)] == bounded_sample(pd.Series(ids)[np.argsort(ids)], 10000, seed=0)).all()
    sampled = effect_drivers(features.loc[keep], np.asarray(tau)[keep], seed=0).set_index("feature")
    assert list(sampled.index) == list(full.index) and sampled.index[0] == "score"
    assert np.abs(sampled["importance"] - full.loc[sampled.index, "importance"]).max() < 0.03
    assert bounded_sample(pd.Series(ids[:500]), 10000, seed=0).all()


@pytest.mark.slow
@pytest.mark.skipif(not hillstrom_present(), reason=HILLSTROM_MISSING)
def test_hillstrom_womens_email_on_visits():
    data = pd.read_csv(HILLSTROM)
    data = data[data.segment.isin(["Womens E-Mail", "No E-Mail"])].reset_index(drop=True)
    columns = ["recency", "history", "mens", "womens", "zip_code", "newbie", "channel"]
    X = prepare_features(data, columns)
    t = (data.segment == "Womens E-Mail").astype(int).to_numpy()
    config = CrossFitConfig(base_model=FAST, seed=0, learners=("constant", "t", "x", "dr"))
    result = cross_fit(np.arange(len(data)), X, data.visit.to_numpy(), t, np.full(len(t), 0.5), True, config, "hs")
    ev = evaluate_learners(result, EvaluationConfig(bootstrap_replicates=60, seed=0), binary=True)
    chosen = ev.learners.set_index("learner").loc[ev.chosen]
    assert ev.chosen != "constant" and chosen.qini_coefficient_ci_low > 0, ev.learners
    order = np.argsort(np.arange(len(data)).astype(str), kind="stable")
    features = data[columns].iloc[order].reset_index(drop=True)
    table = discover_segments(
        features, result.units.dr_score, result.units.treated, max_depth=1, min_leaf_size=1000, seed=0
    )
    assert table.rule.str.startswith("womens").all(), table
    lift_gap = table.effect.iloc[0] - table.effect.iloc[-1]
    print(table[["rule", "n_units", "effect", "effect_ci_low", "effect_ci_high", "p_value_adj"]])
    assert 0.03 < lift_gap < 0.09


def _sampled_discovery_inputs(n: int, seed: int):
    """A scored comparison as the warehouse holds it: int_hte_model_units, features, assignments, experiments and
    hte_cate_scores rows whose doubly-robust scores are the true effect plus noise (unbiased, as out-of-fold
    scores are). The effect is 1 above x = 0.5 and 0.5 more on mobile."""
    rng = np.random.default_rng(seed)
    ids = [f"u{i:06d}" for i in range(n)]
    arm = rng.choice(["control", "treat"], n)
    x = rng.random(n)
    device = rng.choice(["mobile", "desktop", "tablet"], n)
    tau = 1.0 * (x > 0.5) + 0.5 * (device == "mobile")
    units = pd.DataFrame(
        {"experiment_id": "e", "metric": "m", "arm": arm, "unit_id": ids, "y": rng.normal(size=n), "cluster_id": None}
    )
    features = pd.DataFrame({"experiment_id": "e", "unit_id": ids, "x": x, "device": device})
    assignments = pd.DataFrame({"experiment_id": "e", "unit_id": ids, "arm": arm, "propensity": np.nan})
    experiments = ab_experiment("e", treatment="treat")
    scores = pd.DataFrame(
        {
            "experiment_id": "e",
            "metric": "m",
            "arm": "treat",
            "control_arm": "control",
            "learner": "constant",
            "unit_id": ids,
            "dr_score": tau + rng.normal(size=n),
            "treated": (arm == "treat").astype(int),
        }
    )
    return (scores, units, features, assignments, experiments), features.assign(tau=tau)


def _leaf_members(population: pd.DataFrame, rule: str) -> np.ndarray:
    """Which units of the whole comparison a discovered rule ('0.3 < x <= 0.5 and device = mobile') selects."""
    inside = np.ones(len(population), bool)
    for clause in rule.split(" and "):
        parts = clause.split(" ")
        if len(parts) == 5:  # low < x <= high
            values = population[parts[2]]
            inside &= ((values > float(parts[0])) & (values <= float(parts[4]))).to_numpy()
            continue
        feature, op, value = clause.split(" ", 2)
        values = population[feature]
        if op in ("in", "not"):
            levels = value.removeprefix("in ").strip("()").split(", ")
            inside &= values.isin(levels).to_numpy() == (op == "in")
        else:
            inside &= {
                "<=": lambda: values <= float(value),
                ">": lambda: values > float(value),
                "=": lambda: values == value,
                "!=": lambda: values != value,
            }[op]().to_numpy()
    return inside


def test_a_tree_grown_on_a_bounded_sample_stays_honest_its_intervals_cover_the_whole_comparisons_leaves():
    """hte_discovered_segments grows and estimates its tree on a seeded hash sample of about
    hte_uplift_discovery_max_units units when a comparison has more. Both halves come from the sample, so each
    leaf's 95% interval covers that leaf's mean effect over the whole comparison: on 50 samples (6,000 of 30,000
    units each) about 95% of the leaves' intervals do (binomial standard error about 1.5 points)."""
    from hte_engine.uplift.tables import UpliftSettings, discovered_segments

    inputs, population = _sampled_discovery_inputs(30_000, 5)
    covered = []
    for replicate in range(50):
        s = UpliftSettings.from_meta(
            {
                "feature_columns": ["x", "device"],
                "metrics": {"m": {"kind": "continuous"}},
                "uplift_learners": ["constant"],
                "uplift_seed": replicate,
                "uplift_tree_max_depth": 2,
                "uplift_min_leaf_size": 300,
                "uplift_discovery_max_units": 6_000,
            }
        )
        leaves = discovered_segments(*inputs, s)
        assert (leaves["n_comparison_units"] == 30_000).all()
        assert 5_000 < leaves["n_sample_units"].iloc[0] < 7_000
        assert leaves["n_sample_units"].iloc[0] == leaves["n_grow"].sum() + leaves["n_units"].sum()
        for _, leaf in leaves.iterrows():
            truth = population.loc[_leaf_members(population, leaf["rule"]), "tau"].mean()
            covered.append(leaf["effect_ci_low"] <= truth <= leaf["effect_ci_high"])
    assert len(covered) >= 100
    assert 0.89 <= np.mean(covered) <= 0.99, np.mean(covered)


def test_the_discovery_sample_is_read_from_the_warehouse_and_is_the_same_on_every_build():
    """On DuckDB the sample is filtered in the warehouse (only its rows reach Python); the same inputs, in any row
    order, give the same leaves; a comparison under the bound is not sampled."""
    import duckdb

    from hte_engine.uplift.tables import UpliftSettings, discovered_segments

    inputs, _ = _sampled_discovery_inputs(20_000, 6)
    meta = {
        "feature_columns": ["x", "device"],
        "metrics": {"m": {"kind": "continuous"}},
        "uplift_learners": ["constant"],
        "uplift_tree_max_depth": 2,
        "uplift_min_leaf_size": 200,
        "uplift_discovery_max_units": 5_000,
    }
    con = duckdb.connect()

    def on_duckdb(frames):
        return [con.from_arrow(pa.Table.from_pandas(f, preserve_index=False)) for f in frames]

    first = discovered_segments(*on_duckdb(inputs), UpliftSettings.from_meta(meta))
    shuffled = [f.sample(frac=1, random_state=1) for f in inputs]
    again = discovered_segments(*on_duckdb(shuffled), UpliftSettings.from_meta(meta))
    pd.testing.assert_frame_equal(first, again)
    assert 4_000 < first["n_sample_units"].iloc[0] < 6_000 and (first["n_comparison_units"] == 20_000).all()
    whole = discovered_segments(
        *on_duckdb(inputs), UpliftSettings.from_meta({**meta, "uplift_discovery_max_units": 20_000})
    )
    assert (whole["n_sample_units"] == 20_000).all()
