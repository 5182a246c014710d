"""The demo build recovers the effects planted in hte_engine.demo.data: per-segment intervals contain the true
segment effects at the nominal rate, and the verdicts tell the demo's story."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

import reference as ref
from hte_engine.demo import data as demo_data

DIMENSIONS = ref.project_vars()["hte_segment_columns"]


@pytest.fixture(scope="module")
def truth():
    generated = demo_data.generate()
    seeds = ref.demo_inputs()["assignments"]
    assert generated["assignments"][["unit_id", "arm"]].astype(str).equals(seeds[["unit_id", "arm"]].astype(str)), (
        "seeds/demo no longer match demo_data.generate(): regenerate the seeds"
    )
    features = generated["unit_features"]
    per_segment = pd.concat(
        [demo_data.true_segment_effects(generated["truth"], features, d) for d in DIMENSIONS], ignore_index=True
    )
    overall = (
        generated["truth"]
        .groupby(["experiment_id", "metric", "arm"])["true_effect"]
        .mean()
        .reset_index()
        .assign(dimension="overall", segment="all")
    )
    return pd.concat([per_segment, overall], ignore_index=True)


@pytest.fixture(scope="module")
def lifts(demo_build, truth):
    table = demo_build.table("hte_segment_lifts")
    return table.merge(
        truth, on=["experiment_id", "metric", "dimension", "segment", "arm"], how="left", validate="one_to_one"
    )


def test_every_lift_has_a_planted_truth(lifts):
    assert lifts["true_effect"].notna().all(), lifts.loc[lifts["true_effect"].isna(), ref.LIFT_KEYS]


def test_intervals_contain_the_truth_at_the_nominal_rate(lifts):
    # Misses are at most Binomial(k, alpha) by construction of a (1 − alpha) interval; allow its 99.9% quantile.
    # (Rows of one experiment share units, which widens the spread a little; the quantile is generous for it.)
    alpha = ref.project_vars()["hte_alpha"]
    missed = ~((lifts["lift_abs_ci_low"] <= lifts["true_effect"]) & (lifts["true_effect"] <= lifts["lift_abs_ci_high"]))
    allowed = stats.binom.ppf(0.999, len(lifts), alpha)
    assert missed.sum() <= allowed, lifts.loc[
        missed, ref.LIFT_KEYS + ["lift_abs", "lift_abs_ci_low", "lift_abs_ci_high", "true_effect"]
    ].to_string()
    cuped = lifts.dropna(subset=["lift_cuped_ci_low"])
    missed_cuped = ~(
        (cuped["lift_cuped_ci_low"] <= cuped["true_effect"]) & (cuped["true_effect"] <= cuped["lift_cuped_ci_high"])
    )
    assert missed_cuped.sum() <= stats.binom.ppf(0.999, len(cuped), alpha)


def test_coupon_story(lifts):
    coupon = lifts[(lifts["experiment_id"] == "coupon_push") & (lifts["dimension"] == "customer_type")].set_index(
        "segment"
    )
    assert coupon.loc["occasional_shopper", "verdict"] == "positive"
    assert coupon.loc["deal_hunter", "verdict"] == "positive"
    assert coupon["lift_abs"].idxmax() == "occasional_shopper"
    for segment in ("brand_loyalist", "premium_connoisseur"):
        assert coupon.loc[segment, "verdict"] != "positive", coupon.loc[segment].to_dict()
    # The average lift looks healthy although half of the base does not respond.
    overall = lifts[(lifts["experiment_id"] == "coupon_push") & (lifts["dimension"] == "overall")].iloc[0]
    assert overall["verdict"] == "positive"


def test_discount_email_backfires_on_vips(lifts):
    vip = lifts[
        (lifts["experiment_id"] == "email_campaign")
        & (lifts["metric"] == "visit")
        & (lifts["arm"] == "discount_email")
        & (lifts["dimension"] == "history_segment")
        & (lifts["segment"] == "vip")
    ].iloc[0]
    assert vip["true_effect"] < 0
    assert vip["verdict"] == "negative", vip.to_dict()


def test_no_segment_gets_the_wrong_sign(lifts):
    # A significant verdict whose sign contradicts a clearly non-zero truth would be a type S error; at the
    # demo's sizes and effect sizes there must be none.
    clear = lifts["true_effect"].abs() > 2 * lifts["lift_abs_se"]
    wrong = clear & (
        ((lifts["verdict"] == "positive") & (lifts["true_effect"] < 0))
        | ((lifts["verdict"] == "negative") & (lifts["true_effect"] > 0))
    )
    assert not wrong.any(), lifts.loc[wrong, ref.LIFT_KEYS].to_string()


def test_free_shipping_interaction_with_the_coupon_is_found(demo_build):
    # Planted (docs/demo_truth.md): free shipping adds +2 pp alone and +12 pp with the coupon, on free_shipping's
    # own purchase rows; coupon_push's rows were drawn without it. Truth of each cell from the generator itself.
    generated = demo_data.generate()
    coupon_arm = generated["assignments"].query("experiment_id == 'coupon_push'").set_index("unit_id")["arm"]
    shipping_truth = generated["truth"].query("experiment_id == 'free_shipping'")
    true_lift = shipping_truth.groupby(shipping_truth["unit_id"].map(coupon_arm))["true_effect"].mean()
    planted = true_lift["coupon"] - true_lift["control"]
    assert planted == pytest.approx(demo_data.SHIPPING_COUPON_INTERACTION)

    table = demo_build.table("hte_experiment_interactions")
    shipping = table[(table["experiment_id"] == "free_shipping") & (table["other_experiment_id"] == "coupon_push")]
    within = shipping.set_index("other_arm")
    assert within["n_overlap"].eq(12_800).all()
    for other_arm in ("control", "coupon"):
        row = within.loc[other_arm]
        assert row["lift_abs_ci_low"] <= true_lift[other_arm] <= row["lift_abs_ci_high"], row.to_dict()
    found = within.loc["coupon"]
    assert found["interaction_ci_low"] <= planted <= found["interaction_ci_high"], found.to_dict()
    assert found["verdict"] == "interaction" and found["p_value_adj"] < ref.project_vars()["hte_check_alert_p"]

    reverse = table[(table["experiment_id"] == "coupon_push") & (table["other_experiment_id"] == "free_shipping")]
    assert set(reverse["verdict"]) == {"no_evidence"}, reverse.to_dict("records")
    # email_campaign shares no customer with either: no pair
    assert "email_campaign" not in set(table["experiment_id"]) | set(table["other_experiment_id"])

    checks = demo_build.table("hte_checks")
    alerts = checks[(checks["check_name"] == "experiment_interaction") & (checks["status"] == "alert")]
    assert list(zip(alerts["experiment_id"], alerts["dimension"])) == [("free_shipping", "coupon_push")]
