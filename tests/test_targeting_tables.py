"""The targeting tables end to end on the demo (no dbt): unit decisions, policy values and segments."""

import numpy as np
import pandas as pd
import pytest

from hte_engine import demo_data
from hte_engine.learners import BaseModel, fit_outcome
from hte_engine.targeting_tables import TargetingSettings, chosen_scores, experiment_targeting, segments_table


@pytest.fixture(scope="module")
def demo():
    return demo_data.generate()


def coupon_inputs(demo):
    eid = "coupon_push"
    shares = demo["experiments"].set_index(["experiment_id", "arm"])["expected_share"]
    units = (demo["assignments"].merge(demo["outcomes"], on=["experiment_id", "unit_id"])
             .rename(columns={"value": "y"}))
    units = units[units["experiment_id"] == eid].reset_index(drop=True)
    units["propensity"] = [shares[(eid, a)] for a in units["arm"]]
    features = demo["unit_features"][demo["unit_features"]["experiment_id"] == eid].reset_index(drop=True)
    # The planted effects stand in for a learner's out-of-fold scores: the plumbing, not the learner, is tested.
    truth = demo["truth"][demo["truth"]["experiment_id"] == eid]
    scores = truth.rename(columns={"true_effect": "cate"}).assign(learner="oracle", fold=0)
    return units, features, scores


def quick_fit(binary):
    base = BaseModel.from_config({"max_iter": 30, "early_stopping": False}, 0)
    return lambda X, y: fit_outcome(base, X, y, binary)


def test_coupon_push_units_and_policy_values(demo):
    units, features, scores = coupon_inputs(demo)
    settings = TargetingSettings(budget={"coupon_push": 300.0}, capacity=2000, seed=5, bootstrap_replicates=50,
                                 curve_points=11, learner="oracle",
                                 economics={"coupon_push": {"benefit_column": "margin"}})
    economics = settings.economics_for(demo["experiments"], "coupon_push")
    result = experiment_targeting(economics, units, features, chosen_scores(scores, None, "oracle"), settings,
                                  ["customer_type", "visits_per_month", "device"], {"purchase"},
                                  fit=quick_fit(True))
    table = result.units.merge(features[["unit_id", "customer_type"]], on="unit_id")
    treated = table.groupby("customer_type")["decision"].apply(lambda d: (d == "treat").mean())
    # At own margins only occasional shoppers pay (+12 pp x $2.50 - $0.09); deal-hunters lose $0.002.
    assert treated["occasional_shopper"] == 1.0
    assert treated[["brand_loyalist", "deal_hunter", "premium_connoisseur"]].max() == 0.0
    values = result.policy_value.set_index("policy")
    assert values.loc["budget", "cost"] <= 300.0 + 1e-9
    assert values.loc["capacity", "n_treated"] <= 2000
    assert values.loc["threshold", "value"] > values.loc["treat_all", "value"]
    assert values.loc["threshold", "difference_vs_treat_all_ci_low"] > 0
    assert values.loc["treat_none", "value"] == 0.0
    curve = result.policy_value[result.policy_value["policy"] == "budget_curve"]
    assert len(curve) == 11 and curve["cost"].iloc[-1] == pytest.approx(0.09 * len(result.units))


def test_segments_table_from_units_with_a_per_unit_benefit(demo):
    units, features, _ = coupon_inputs(demo)
    units = units.merge(features[["unit_id", "customer_type", "device"]], on="unit_id")
    settings = TargetingSettings(economics={"coupon_push": {"benefit_column": "margin"}}, min_segment_size=100)
    experiments = demo["experiments"][demo["experiments"]["experiment_id"] == "coupon_push"]
    table = segments_table(pd.DataFrame(columns=["experiment_id", "metric"]), experiments, settings, units,
                           features, ["customer_type", "device"])
    decision = table[table["dimension"] == "customer_type"].set_index("segment")["decision"]
    assert decision["occasional_shopper"] == "treat"
    assert decision[["brand_loyalist", "premium_connoisseur"]].tolist() == ["hold", "hold"]


def test_a_deployed_policy_that_is_not_configured_fails_clearly():
    with pytest.raises(ValueError, match="var hte_targeting_policy is 'budget'"):
        TargetingSettings(policy="budget").policies_for("coupon_push")
    with pytest.raises(ValueError, match="unknown keys"):
        TargetingSettings(economics={"e": {"margin": "x"}}).economics_for(pd.DataFrame(), "e")
