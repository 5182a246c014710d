"""Honest discovered segments and effect drivers, on simulated truth and on the Hillstrom e-mail experiment."""

import numpy as np
import pandas as pd
import pytest

from dbt_runner import HILLSTROM_CSV, HILLSTROM_MISSING, hillstrom_present
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
    table = discover_segments(features, result.units.dr_score, result.units.treated, max_depth=2,
                              min_leaf_size=300, seed=2)
    assert table.rule.str.contains("score").any() and table.rule.str.contains("device").any()
    truth = in_unit_order(ids, tau)
    # The honest estimate of each leaf is within 3.5 standard errors of the leaf's true mean effect.
    for _, row in table.iterrows():
        mask = np.ones(len(features), bool)
        for condition in row.rule.split(" and "):
            feature, op, value = condition.split(" ", 2)
            col = features[feature]
            mask &= {"<=": lambda: col <= float(value), ">": lambda: col > float(value),
                     "=": lambda: col == value, "!=": lambda: col != value}[op]().to_numpy()
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
    table = discover_segments(features, result.units.dr_score, result.units.treated, max_depth=1,
                              min_leaf_size=1000, seed=0)
    assert table.rule.str.startswith("womens").all(), table
    lift_gap = table.effect.iloc[0] - table.effect.iloc[-1]
    print(table[["rule", "n_units", "effect", "effect_ci_low", "effect_ci_high", "p_value_adj"]])
    assert 0.03 < lift_gap < 0.09
