"""The segment decision table: value lifts match statsmodels, each decision rule fires where it should, and the
demo's coupon_push reproduces the textbook conclusion."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from hte_engine.demo import data as demo_data
from hte_engine.targeting.policies import Economics
from hte_engine.targeting.segments import segment_decisions, segment_value_lifts


@pytest.fixture(scope="module")
def coupon_units():
    demo = demo_data.generate()
    outcomes = demo["outcomes"][demo["outcomes"]["metric"] == "purchase"]
    units = (
        demo["assignments"]
        .merge(demo["unit_features"], on=["experiment_id", "unit_id"])
        .merge(outcomes, on=["experiment_id", "unit_id"])
        .rename(columns={"value": "y"})
    )
    return units[units["experiment_id"] == "coupon_push"].reset_index(drop=True), demo["experiments"]


def test_value_lifts_are_welch_differences_in_mean_benefit_times_outcome(coupon_units):
    units, _ = coupon_units
    lifts = segment_value_lifts(
        units, units["margin"].to_numpy(), ["customer_type"], "control", "coupon_push", "purchase"
    ).set_index(["dimension", "segment"])
    for segment, part in units.groupby("customer_type"):
        v = part["y"] * part["margin"]
        reference = CompareMeans(
            DescrStatsW(v[part["arm"] == "coupon"].to_numpy()), DescrStatsW(v[part["arm"] == "control"].to_numpy())
        )
        row = lifts.loc[("customer_type", segment)]
        assert row["lift_abs"] == pytest.approx(
            v[part["arm"] == "coupon"].mean() - v[part["arm"] == "control"].mean(), rel=1e-12
        )
        assert row["lift_abs_se"] == pytest.approx(reference.std_meandiff_separatevar, rel=1e-10)
    assert lifts.loc[("overall", "all"), "n_treatment"] + lifts.loc[("overall", "all"), "n_control"] == len(units)


def test_coupon_push_reproduces_the_textbook_conclusion(coupon_units):
    # Valued at each customer's own margin: treat occasional shoppers, deal-hunters about break-even (more data
    # or hold), never loyalists or premium connoisseurs (reference 002's table).
    units, experiments = coupon_units
    economics = Economics.from_experiments(experiments, "coupon_push", benefit_column="margin")
    lifts = segment_value_lifts(
        units, units["margin"].to_numpy(), ["customer_type", "device"], "control", "coupon_push", "purchase"
    )
    table = segment_decisions(lifts, economics, benefit=1.0, min_segment_size=100)
    decision = table[table["dimension"] == "customer_type"].set_index("segment")["decision"]
    assert decision["occasional_shopper"] == "treat"
    assert decision["deal_hunter"] in ("need more data", "hold")
    assert decision["brand_loyalist"] == "hold"
    assert decision["premium_connoisseur"] == "hold"
    deal = table.set_index(["dimension", "segment"]).loc[("customer_type", "deal_hunter")]
    assert deal["net_value_ci_low"] < 0 < deal["net_value_ci_high"]


def rows(**columns):
    base = {
        "experiment_id": "e",
        "metric": "y",
        "dimension": "d",
        "arm": "a",
        "control_arm": "c",
        "n_treatment": 1000,
        "n_control": 1000,
        "verdict": None,
    }
    n = len(columns["segment"])
    return pd.DataFrame({**{k: [v] * n for k, v in base.items()}, **columns})


def economics(**kw):
    return Economics("e", "c", "y", cost_per_treated=kw.pop("costs", {"a": 1.0}), benefit_per_unit=10.0, **kw)


def test_each_decision_rule_fires_where_it_should():
    lifts = rows(
        segment=["wins", "loses", "null", "unsure", "tiny"],
        lift_abs=[0.5, 0.0, 0.05, 0.12, 0.5],
        lift_abs_se=[0.02, 0.02, 0.04, 0.02, 0.02],
    )
    lifts.loc[4, "n_control"] = 10
    table = segment_decisions(lifts, economics(), adjustment="none", min_segment_size=100).set_index("segment")
    # net = 10 * lift - 1, se = 10 * lift se, z = 1.96; "null": lift interval [-0.03, 0.13], net [-1.28, 0.28]
    assert table.loc["wins", "decision"] == "treat"
    assert table.loc["loses", "decision"] == "hold"
    assert table.loc["null", "decision"] == "hold"
    assert table.loc["null", "reason"].startswith("no detectable lift")
    assert table.loc["unsure", "decision"] == "need more data"
    assert table.loc["unsure", "reason"] == "net value interval crosses break-even"
    assert table.loc["tiny", "decision"] == "need more data"
    assert table.loc["wins", "net_value"] == pytest.approx(4.0)
    assert table.loc["wins", "net_value_ci_low"] == pytest.approx(4.0 - 1.959964 * 0.2, rel=1e-6)
    assert table.loc["wins", "break_even_lift"] == pytest.approx(0.1)


def test_bonferroni_widens_the_interval_by_the_number_of_segments():
    lifts = rows(segment=["s1", "s2", "s3", "s4"], lift_abs=[0.15] * 4, lift_abs_se=[0.02] * 4)
    table = segment_decisions(lifts, economics())
    assert table["z_critical"].iloc[0] == pytest.approx(2.497705, rel=1e-6)
    # 0.5 - 2.4977 * 0.2 = 0.0005 > 0 at Bonferroni; just treat.
    assert (table["decision"] == "treat").all()


def test_risk_and_cost_metrics_enter_the_net_value_and_the_limit_holds_segments():
    target = rows(segment=["s1", "s2"], lift_abs=[0.5, 0.5], lift_abs_se=[0.01, 0.01])
    cost = rows(segment=["s1", "s2"], lift_abs=[0.1, 0.1], lift_abs_se=[0.01, 0.01])
    risk = rows(segment=["s1", "s2"], lift_abs=[0.01, 0.05], lift_abs_se=[0.01, 0.01])
    econ = economics(
        cost_metric="redeem", cost_per_metric_unit=5.0, risk_metric="churn", risk_penalty_per_unit=20.0, risk_limit=0.03
    )
    table = segment_decisions(target, econ, cost_lifts=cost, risk_lifts=risk, adjustment="none").set_index("segment")
    assert table.loc["s1", "net_value"] == pytest.approx(5.0 - (1.0 + 0.5) - 0.2)
    assert table.loc["s1", "net_value_se"] == pytest.approx(np.sqrt(0.1**2 + 0.05**2 + 0.2**2))
    assert table.loc["s1", "decision"] == "treat"
    assert table.loc["s2", "decision"] == "hold" and table.loc["s2", "reason"].startswith("guardrail")


def test_multi_arm_segments_recommend_the_most_valuable_arm_that_clears_break_even():
    lifts = pd.concat(
        [
            rows(segment=["s1", "s2"], lift_abs=[0.5, 0.0], lift_abs_se=[0.01, 0.01]),
            rows(segment=["s1", "s2"], lift_abs=[0.8, 0.3], lift_abs_se=[0.01, 0.01]).assign(arm="b"),
        ]
    )
    table = segment_decisions(lifts, economics(costs={"a": 1.0, "b": 2.0}), adjustment="none")
    best = table.drop_duplicates("segment").set_index("segment")
    assert best.loc["s1", "recommended_arm"] == "b"  # 8 - 2 = 6 beats 5 - 1 = 4
    assert best.loc["s2", "recommended_arm"] == "b"  # only b clears: 3 - 2 = 1
    assert best.loc["s1", "segment_decision"] == "treat"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adjustment": "sidak"}, "hte_targeting_interval_adjustment"),
        ({"alpha": 1.5}, "alpha must be in"),
    ],
)
def test_bad_settings_fail_clearly(kwargs, message):
    with pytest.raises(ValueError, match=message):
        segment_decisions(rows(segment=["s"], lift_abs=[0.1], lift_abs_se=[0.01]), economics(), **kwargs)


def test_unknown_arm_and_missing_metric_lifts_fail_clearly():
    with pytest.raises(ValueError, match=r"arms \['z'\] in the lifts are not treatment arms"):
        segment_decisions(rows(segment=["s"], lift_abs=[0.1], lift_abs_se=[0.01]).assign(arm="z"), economics())
    with pytest.raises(ValueError, match="risk metric 'churn' but no lifts"):
        segment_decisions(
            rows(segment=["s"], lift_abs=[0.1], lift_abs_se=[0.01]),
            economics(risk_metric="churn", risk_penalty_per_unit=1.0),
        )
    with pytest.raises(ValueError, match="per-unit column 'margin'"):
        segment_decisions(
            rows(segment=["s"], lift_abs=[0.1], lift_abs_se=[0.01]),
            Economics("e", "c", "y", {"a": 1.0}, benefit_column="margin"),
        )
