"""The bundled demo data: deterministic, committed as generated, faithful to the input contract, and a sample
whose per-segment differences in means agree with the planted truth.

These test the generator. Whether the package recovers the truth from the seeds is tested with the models.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hte_engine.demo import data as demo_data

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = REPO / "seeds" / "demo"
CONTROL = {"coupon_push": "control", "email_campaign": "no_email", "free_shipping": "control"}
DIMENSIONS = {
    "coupon_push": ("customer_type", "device"),
    "free_shipping": ("customer_type", "device"),
    "email_campaign": ("history_segment", "engagement_band", "device"),
}
FEATURE_COLUMNS = {
    "coupon_push": ("customer_type", "margin", "visits_per_month", "tenure_days", "device"),
    "free_shipping": ("customer_type", "margin", "visits_per_month", "tenure_days", "device"),
    "email_campaign": (
        "history_segment",
        "engagement_score",
        "engagement_band",
        "visits_per_month",
        "tenure_days",
        "device",
    ),
}


@pytest.fixture(scope="module")
def demo() -> dict[str, pd.DataFrame]:
    return demo_data.generate()


@pytest.fixture(scope="module")
def analysis_frame(demo) -> pd.DataFrame:
    return (
        demo["outcomes"]
        .merge(demo["assignments"], on=["experiment_id", "unit_id"], validate="many_to_one")
        .merge(demo["unit_features"], on=["experiment_id", "unit_id"], validate="many_to_one")
    )


# --- reproducibility -------------------------------------------------------------------------------------------


def test_generation_is_deterministic_for_a_seed_and_changes_with_it(demo):
    again = demo_data.generate()
    for name, frame in demo.items():
        pd.testing.assert_frame_equal(frame, again[name], check_exact=True, obj=name)
    other = demo_data.generate(seed=demo_data.DEFAULT_SEED + 1)
    assert not other["outcomes"]["value"].equals(demo["outcomes"]["value"])


def test_committed_files_equal_a_fresh_generation():
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "generate_demo_data.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_csvs_parse_back_to_the_generated_values(demo):
    # The CSV text must not lose precision: the truth is a function of exactly the feature values a user loads.
    for relation in demo_data.DEMO_RELATIONS:
        loaded = pd.read_csv(SEED_DIR / f"hte_demo_{relation}.csv", keep_default_na=False, na_values=[""])
        generated = demo[relation]
        assert list(loaded.columns) == list(generated.columns), relation
        for col in generated.columns:
            g = generated[col]
            if pd.api.types.is_datetime64_any_dtype(g):
                np.testing.assert_array_equal(
                    pd.to_datetime(loaded[col]).to_numpy("datetime64[s]"),
                    g.to_numpy("datetime64[s]"),
                    err_msg=f"{relation}.{col}",
                )
            elif pd.api.types.is_numeric_dtype(g):
                np.testing.assert_array_equal(
                    loaded[col].to_numpy(float), g.to_numpy(float), err_msg=f"{relation}.{col}"
                )
            else:
                assert loaded[col].astype("string").fillna("").tolist() == g.fillna("").tolist(), f"{relation}.{col}"


def test_committed_csvs_stay_small_enough_for_dbt_seed():
    total = sum(p.stat().st_size for p in SEED_DIR.glob("*.csv"))
    assert total < 8 * 1024 * 1024


# --- the input contract ----------------------------------------------------------------------------------------


def test_experiments_declare_one_control_and_shares_summing_to_one(demo):
    exp = demo["experiments"]
    assert set(exp["experiment_id"]) == set(CONTROL)
    for experiment_id, arms in exp.groupby("experiment_id"):
        assert arms.loc[arms["is_control"], "arm"].tolist() == [CONTROL[experiment_id]]
        # Exactly 1 in floating point, not only approximately: strict warehouse checks must pass too.
        assert sum(arms["expected_share"].tolist()) == 1.0
        assert arms["arm"].is_unique
        assert arms["target_metric"].nunique() == 1 and arms["benefit_per_unit"].gt(0).all()
        assert arms.loc[arms["is_control"], "cost_per_treated"].eq(0).all()


def test_every_assigned_arm_is_declared(demo):
    declared = set(zip(demo["experiments"]["experiment_id"], demo["experiments"]["arm"]))
    assigned = set(zip(demo["assignments"]["experiment_id"], demo["assignments"]["arm"]))
    assert assigned == declared


def test_units_are_unique_within_experiments_and_shared_only_by_the_overlapping_pair(demo):
    a, f = demo["assignments"], demo["unit_features"]
    units = a.groupby("experiment_id")["unit_id"].apply(set)
    assert units["coupon_push"].isdisjoint(units["email_campaign"])
    assert units["free_shipping"] < units["coupon_push"]  # a strict subset: 80% of the coupon's customers
    assert units["free_shipping"].isdisjoint(units["email_campaign"])
    assert not a[["experiment_id", "unit_id"]].duplicated().any()
    assert not f[["experiment_id", "unit_id"]].duplicated().any()
    pd.testing.assert_frame_equal(a[["experiment_id", "unit_id"]], f[["experiment_id", "unit_id"]])
    prefix = a["unit_id"].str.slice(0, 3)
    assert (prefix[a["experiment_id"].isin(["coupon_push", "free_shipping"])] == "cp_").all()
    assert (prefix[a["experiment_id"] == "email_campaign"] == "em_").all()
    assert a["experiment_id"].value_counts().to_dict() == {
        "coupon_push": demo_data.COUPON_N_UNITS,
        "email_campaign": demo_data.EMAIL_N_UNITS,
        "free_shipping": round(demo_data.SHIPPING_SHARE_OF_COUPON_CUSTOMERS * demo_data.COUPON_N_UNITS),
    }


def test_features_are_observed_before_assignment(demo):
    joined = demo["unit_features"].merge(demo["assignments"], on=["experiment_id", "unit_id"])
    assert (joined["features_at"] < joined["assigned_at"]).all()


def test_features_are_complete_for_their_experiment_and_empty_otherwise(demo):
    f = demo["unit_features"]
    every_feature = set().union(*FEATURE_COLUMNS.values())
    for experiment_id, own in FEATURE_COLUMNS.items():
        rows = f[f["experiment_id"] == experiment_id]
        assert rows[list(own)].notna().all().all(), experiment_id
        assert rows[sorted(every_feature - set(own))].isna().all().all(), experiment_id
    email = f[f["experiment_id"] == "email_campaign"]
    assert email["engagement_score"].between(0, 1).all()
    np.testing.assert_array_equal(
        email["engagement_band"].to_numpy(object), demo_data.engagement_band(email["engagement_score"].to_numpy())
    )
    coupon = f[f["experiment_id"] == "coupon_push"]
    assert (coupon["margin"] == coupon["customer_type"].map(demo_data.CUSTOMER_TYPE_MARGIN)).all()
    assert coupon["customer_type"].value_counts().index[0] == "brand_loyalist"


def test_outcomes_hold_every_unit_and_metric_with_pre_periods_where_declared(demo):
    o, a = demo["outcomes"], demo["assignments"]
    assert not o[["experiment_id", "unit_id", "metric"]].duplicated().any()
    metrics = {"coupon_push": {"purchase"}, "email_campaign": {"visit", "spend"}}
    for experiment_id, expected in metrics.items():
        units = set(a.loc[a["experiment_id"] == experiment_id, "unit_id"])
        rows = o[o["experiment_id"] == experiment_id]
        assert set(rows["metric"]) == expected
        for metric, m in rows.groupby("metric"):
            assert set(m["unit_id"]) == units, (experiment_id, metric)
    assert o["value"].notna().all() and np.isfinite(o["value"]).all()
    assert o.loc[o["metric"].isin(["purchase", "visit"]), "value"].isin([0.0, 1.0]).all()
    assert o["value"].ge(0).all()
    assert o.loc[o["metric"].isin(["purchase", "spend"]), "pre_value"].notna().all()
    assert o.loc[o["metric"] == "visit", "pre_value"].isna().all()
    spend = o.loc[o["metric"] == "spend", "value"]
    # Mostly zeros with a heavy right tail.
    assert 0.85 < (spend == 0).mean() < 0.99
    assert stats.skew(spend[spend > 0]) > 2


# --- the planted truth -----------------------------------------------------------------------------------------


def test_coupon_truth_is_the_chapter_table(demo):
    planted = {"brand_loyalist": 0.0, "occasional_shopper": 0.12, "deal_hunter": 0.08, "premium_connoisseur": 0.0}
    units = demo["truth"].merge(demo["unit_features"], on=["experiment_id", "unit_id"])
    units = units[units["experiment_id"] == "coupon_push"]
    assert (units["true_effect"] == units["customer_type"].map(planted)).all()
    seg = demo_data.true_segment_effects(demo["truth"], demo["unit_features"], "customer_type")
    seg = seg[seg["experiment_id"] == "coupon_push"]
    assert seg["true_effect"].to_numpy() == pytest.approx(seg["segment"].map(planted).to_numpy(), abs=1e-12)
    overall = demo["truth"].loc[demo["truth"]["experiment_id"] == "coupon_push", "true_effect"].mean()
    assert 0.03 <= overall <= 0.05


def test_discount_email_hurts_vip_visits(demo):
    seg = demo_data.true_segment_effects(demo["truth"], demo["unit_features"], "history_segment")
    vip = seg[(seg["segment"] == "vip") & (seg["metric"] == "visit")].set_index("arm")["true_effect"]
    assert vip["discount_email"] < -0.04
    assert vip["content_email"] > 0


def test_device_is_a_null_dimension_for_the_lift(demo):
    # Given the features the effect is built from, the unit's true effect must not vary with device.
    truth = demo["truth"].merge(demo["unit_features"], on=["experiment_id", "unit_id"])
    drivers = {"coupon_push": ["customer_type"], "email_campaign": ["history_segment", "engagement_score"]}
    for experiment_id, cols in drivers.items():
        rows = truth[truth["experiment_id"] == experiment_id]
        assert rows.groupby(["metric", "arm", *cols])["true_effect"].nunique().eq(1).all(), experiment_id
        assert rows["device"].nunique() == 3


def test_truth_has_one_row_per_unit_treatment_arm_and_metric(demo):
    truth, exp = demo["truth"], demo["experiments"]
    assert not truth[["experiment_id", "unit_id", "arm", "metric"]].duplicated().any()
    treatment_arms = exp[~exp["is_control"]].groupby("experiment_id")["arm"].apply(set).to_dict()
    metrics = demo["outcomes"].groupby("experiment_id")["metric"].apply(set).to_dict()
    n_units = demo["assignments"]["experiment_id"].value_counts()
    for experiment_id in CONTROL:
        rows = truth[truth["experiment_id"] == experiment_id]
        assert set(rows["arm"]) == treatment_arms[experiment_id]
        assert set(rows["metric"]) == metrics[experiment_id]
        assert len(rows) == n_units[experiment_id] * len(treatment_arms[experiment_id]) * len(metrics[experiment_id])


def test_true_segment_effects_names_a_missing_dimension(demo):
    with pytest.raises(ValueError, match="no column 'region'"):
        demo_data.true_segment_effects(demo["truth"], demo["unit_features"], "region")


def _segment_differences(frame: pd.DataFrame, truth: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Welch difference in means of every treatment arm vs control per segment, beside the segment's truth."""
    rows = []
    for (experiment_id, metric), data in frame.groupby(["experiment_id", "metric"]):
        exp_truth = truth[(truth["experiment_id"] == experiment_id) & (truth["metric"] == metric)]
        for dimension in ("overall", *DIMENSIONS[experiment_id]):
            if dimension == "overall":
                planted = exp_truth.groupby("arm")["true_effect"].mean().rename("true_effect").reset_index()
                planted["segment"] = "all"
                groups = [("all", data)]
            else:
                planted = demo_data.true_segment_effects(exp_truth, features, dimension)
                groups = list(data.groupby(dimension))
            planted = planted.set_index(["segment", "arm"])["true_effect"]
            for segment, seg_data in groups:
                by_arm = seg_data.groupby("arm")["value"]
                control = by_arm.get_group(CONTROL[experiment_id])
                for arm, treated in by_arm:
                    if arm == CONTROL[experiment_id]:
                        continue
                    se = np.sqrt(treated.var() / len(treated) + control.var() / len(control))
                    rows.append(
                        {
                            "experiment_id": experiment_id,
                            "metric": metric,
                            "dimension": dimension,
                            "segment": segment,
                            "arm": arm,
                            "estimate": treated.mean() - control.mean(),
                            "se": se,
                            "true_effect": planted[(segment, arm)],
                        }
                    )
    return pd.DataFrame(rows)


def test_sample_segment_differences_agree_with_the_truth_within_3_se(demo, analysis_frame):
    diffs = _segment_differences(analysis_frame, demo["truth"], demo["unit_features"])
    # coupon_push and free_shipping: overall + 4 + 3; email: 2 arms x (1 + 4 + 3 + 3) x 2 metrics
    assert len(diffs) == 8 + 8 + 2 * 11 * 2
    z = (diffs["estimate"] - diffs["true_effect"]) / diffs["se"]
    assert (z.abs() < 3).all(), diffs.assign(z=z)[z.abs() >= 3].to_string()


def test_the_headline_segments_are_detectable_in_the_sample(demo, analysis_frame):
    diffs = _segment_differences(analysis_frame, demo["truth"], demo["unit_features"]).set_index(
        ["experiment_id", "metric", "dimension", "segment", "arm"]
    )
    z = diffs["estimate"] / diffs["se"]
    assert z[("coupon_push", "purchase", "customer_type", "occasional_shopper", "coupon")] > 4
    assert z[("coupon_push", "purchase", "customer_type", "deal_hunter", "coupon")] > 3
    assert z[("email_campaign", "visit", "history_segment", "vip", "discount_email")] < -3
    assert z[("email_campaign", "visit", "engagement_band", "high", "content_email")] > 4


def test_pre_period_correlates_with_the_outcome_enough_for_cuped(analysis_frame):
    # CUPED removes a share rho^2 of the variance; the demo should show a visible reduction on purchase.
    for metric, floor in (("purchase", 0.3), ("spend", 0.15)):
        rows = analysis_frame[(analysis_frame["metric"] == metric)]
        assert np.corrcoef(rows["value"], rows["pre_value"])[0, 1] > floor, metric


def test_the_sample_passes_the_guardrails_it_is_meant_to_pass(demo, analysis_frame):
    # The demo must not raise sample-ratio or balance alerts at the package's alert threshold (p < 0.001).
    exp = demo["experiments"].set_index(["experiment_id", "arm"])["expected_share"]
    units = analysis_frame.drop_duplicates(["experiment_id", "unit_id"])
    for experiment_id, rows in units.groupby("experiment_id"):
        for dimension in ("overall", *DIMENSIONS[experiment_id]):
            groups = [("all", rows)] if dimension == "overall" else rows.groupby(dimension)
            for segment, seg in groups:
                counts = seg["arm"].value_counts()
                arms = exp.loc[experiment_id].index
                expected = exp.loc[experiment_id].to_numpy() * len(seg)
                p = stats.chisquare(counts.reindex(arms).to_numpy(), expected).pvalue
                assert p > 0.001, (experiment_id, dimension, segment, p)
            if dimension != "overall":
                table = pd.crosstab(rows[dimension], rows["arm"])
                assert stats.chi2_contingency(table).pvalue > 0.001, (experiment_id, dimension)


def test_a_lift_that_would_leave_the_probability_scale_is_refused(monkeypatch):
    monkeypatch.setitem(
        demo_data.VISIT_LIFT_INTERCEPT,
        "discount_email",
        {**demo_data.VISIT_LIFT_INTERCEPT["discount_email"], "vip": -0.5},
    )
    with pytest.raises(ValueError, match="email_campaign visit under discount_email probability leaves"):
        demo_data.generate()


# --- the truth is the data-generating process's expectation ------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["coupon_push", "email_campaign", "free_shipping"])
def test_truth_matches_a_large_simulation_per_segment(experiment):
    # With 400,000 units the per-segment difference in means estimates E[Y(arm) - Y(control) | segment] within a
    # few tenths of a pp; the analytic truth must agree within 4 standard errors in every segment.
    rng = np.random.default_rng(7)
    if experiment == "free_shipping":
        part = demo_data._free_shipping(rng, demo_data._coupon_push(rng, 400_000))
    else:
        make = {"coupon_push": demo_data._coupon_push, "email_campaign": demo_data._email_campaign}[experiment]
        part = make(rng, 400_000)
    frame = (
        part["outcomes"]
        .merge(part["assignments"], on=["experiment_id", "unit_id"])
        .merge(part["unit_features"], on=["experiment_id", "unit_id"])
    )
    diffs = _segment_differences(frame, part["truth"], part["unit_features"])
    z = (diffs["estimate"] - diffs["true_effect"]) / diffs["se"]
    assert (z.abs() < 4).all(), diffs.assign(z=z)[z.abs() >= 4].to_string()
    assert diffs["se"].max() < (0.6 if experiment == "email_campaign" else 0.02)


def test_free_shipping_effect_is_planted_on_the_coupon_arm_only(demo):
    # E[Y(free_shipping) - Y(control) | x, coupon arm] = 0.02 + 0.10 * 1[coupon], exactly, for every unit.
    assignments = demo["assignments"]
    coupon_arm = assignments[assignments["experiment_id"] == "coupon_push"].set_index("unit_id")["arm"]
    rows = demo["truth"][demo["truth"]["experiment_id"] == "free_shipping"]
    has_coupon = (rows["unit_id"].map(coupon_arm) == "coupon").to_numpy()
    expected = demo_data.SHIPPING_LIFT + demo_data.SHIPPING_COUPON_INTERACTION * has_coupon
    np.testing.assert_array_equal(rows["true_effect"].to_numpy(), expected)
    assert 0.4 < has_coupon.mean() < 0.6
    # the two assignment periods overlap (hte_experiment_interactions pairs only such experiments)
    period = assignments.groupby("experiment_id")["assigned_at"].agg(["min", "max"])
    assert period.loc["free_shipping", "min"] <= period.loc["coupon_push", "max"]
