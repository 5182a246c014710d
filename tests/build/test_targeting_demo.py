"""The targeting models inside the full demo build, checked against the demo's known truth (docs/demo_truth.md):
every unit decided, the deployed policy's doubly-robust value and its true value (from the data-generating
process) against treat-none, treat-all and the oracle."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hte_engine.demo.data import generate


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    """True net value of every unit x treatment arm on its experiment's target metric, with the demo economics
    (coupon_push values a purchase at the unit's own margin: var hte_targeting_economics in dbt_project.yml)."""
    demo = generate()
    experiments = demo["experiments"]
    treated = experiments[~experiments["is_control"].astype(bool)]
    rows = demo["truth"].merge(
        treated[["experiment_id", "arm", "target_metric", "benefit_per_unit", "cost_per_treated"]],
        on=["experiment_id", "arm"],
    )
    rows = rows[rows["metric"] == rows["target_metric"]]
    # coupon_push and free_shipping share customers: features are per experiment x unit
    rows = rows.merge(
        demo["unit_features"][["experiment_id", "unit_id", "margin"]],
        on=["experiment_id", "unit_id"],
        how="left",
        validate="many_to_one",
    )
    benefit = np.where(rows["experiment_id"] == "coupon_push", rows["margin"], rows["benefit_per_unit"])
    return rows.assign(true_net_value=rows["true_effect"] * benefit - rows["cost_per_treated"])


def _true_value(truth: pd.DataFrame, units: pd.DataFrame, experiment_id: str) -> float:
    chosen = units[units["experiment_id"] == experiment_id][["unit_id", "chosen_arm"]]
    picked = truth[truth["experiment_id"] == experiment_id].merge(
        chosen, left_on=["unit_id", "arm"], right_on=["unit_id", "chosen_arm"]
    )
    return float(picked["true_net_value"].sum())


def test_every_demo_unit_gets_a_decision_and_a_reason_when_held(demo_build):
    units = demo_build.table("hte_targeting_units")
    assignments = demo_build.table("stg_hte_assignments")
    assert sorted(units["unit_id"]) == sorted(assignments["unit_id"])
    assert set(units["decision"]) <= {"treat", "hold", "explore"}
    held = units["decision"] == "hold"
    assert units.loc[held, "reason"].notna().all() and units.loc[~held, "reason"].isna().all()
    # A unit is treated only when its arm is expected to pay (the threshold policy is the default).
    treated = units["decision"] == "treat"
    assert (units.loc[treated, "expected_net_value"] > 0).all()


def test_coupon_push_targets_the_planted_segments(demo_build):
    units = demo_build.table("hte_targeting_units").merge(
        demo_build.table("stg_hte_unit_features")[["unit_id", "customer_type"]], on="unit_id"
    )
    share = (
        units[units["experiment_id"] == "coupon_push"]
        .assign(treated=lambda f: f["chosen_arm"] == "coupon")
        .groupby("customer_type")["treated"]
        .mean()
    )
    # Occasional shoppers (+12 pp at $2.50) pay best; loyalists and premium connoisseurs (no lift) never pay.
    assert share["occasional_shopper"] > 0.5
    assert share["occasional_shopper"] > max(share["brand_loyalist"], share["premium_connoisseur"]) + 0.3


def test_policy_value_of_the_deployed_policy_against_the_alternatives_and_the_truth(demo_build, truth):
    values = demo_build.table("hte_policy_value")
    units = demo_build.table("hte_targeting_units")
    assert set(values["experiment_id"]) == {"coupon_push", "email_campaign", "free_shipping"}
    for eid, table in values.groupby("experiment_id"):
        rows = table[table["policy"] != "budget_curve"].set_index("policy")
        deployed = rows[rows["is_deployed"].astype(bool)]
        assert len(deployed) == 1, eid
        deployed = deployed.iloc[0]
        # At least as good as doing nothing, within its interval; the interval is an interval.
        assert deployed["ci_high"] >= 0 and deployed["ci_low"] <= deployed["value"] <= deployed["ci_high"]
        assert rows.loc["treat_none", "value"] == 0
        # The doubly-robust interval covers the true value of the very assignment it evaluates.
        true_value = _true_value(truth, units, eid)
        assert deployed["ci_low"] <= true_value <= deployed["ci_high"], (eid, true_value, deployed.to_dict())
        assert true_value >= 0, eid
        curve = table[table["policy"] == "budget_curve"].sort_values("curve_point")
        assert curve["cost"].iloc[0] == 0 and curve["cost"].is_monotonic_increasing

    coupon = truth[truth["experiment_id"] == "coupon_push"]
    true_value = _true_value(truth, units, "coupon_push")
    treat_all = coupon["true_net_value"].sum()
    oracle = coupon["true_net_value"].clip(lower=0).sum()
    # Blanket couponing loses money at the customers' own margins; targeting recovers most of the oracle's value.
    assert treat_all < 0 < true_value
    assert true_value >= 0.5 * oracle
    rows = values[(values["experiment_id"] == "coupon_push") & values["is_deployed"].astype(bool)].iloc[0]
    assert rows["ci_low"] > 0 and rows["difference_vs_treat_all_ci_low"] > 0
