"""The targeting tables end to end on the demo (no dbt): unit decisions, policy values and segments."""

import numpy as np
import pandas as pd
import pytest

from hte_engine.demo import data as demo_data
from hte_engine.targeting.tables import TargetingSettings, chosen_scores, experiment_targeting, segments_table
from hte_engine.uplift.learners import BaseModel, fit_outcome


@pytest.fixture(scope="module")
def demo():
    return demo_data.generate()


def demo_experiment(demo, eid: str):
    """One demo experiment's outcome rows (with the assignment's propensity) and its unit features."""
    shares = demo["experiments"].set_index(["experiment_id", "arm"])["expected_share"]
    units = demo["assignments"].merge(demo["outcomes"], on=["experiment_id", "unit_id"]).rename(columns={"value": "y"})
    units = units[units["experiment_id"] == eid].reset_index(drop=True)
    units["propensity"] = [shares[(eid, a)] for a in units["arm"]]
    features = demo["unit_features"][demo["unit_features"]["experiment_id"] == eid].reset_index(drop=True)
    return units, features


def coupon_inputs(demo):
    eid = "coupon_push"
    units, features = demo_experiment(demo, eid)
    # The planted effects stand in for a learner's out-of-fold scores: the plumbing, not the learner, is tested.
    truth = demo["truth"][demo["truth"]["experiment_id"] == eid]
    scores = truth.rename(columns={"true_effect": "cate"}).assign(learner="oracle", fold=0)
    return units, features, scores


def quick_fit(binary):
    base = BaseModel.from_config({"max_iter": 30, "early_stopping": False}, 0)
    return lambda X, y: fit_outcome(base, X, y, binary)


def test_coupon_push_units_and_policy_values(demo):
    units, features, scores = coupon_inputs(demo)
    settings = TargetingSettings(
        budget={"coupon_push": 300.0},
        capacity=2000,
        seed=5,
        bootstrap_replicates=50,
        curve_points=11,
        learner="oracle",
        economics={"coupon_push": {"benefit_column": "margin"}},
    )
    economics = settings.economics_for(demo["experiments"], "coupon_push")
    result = experiment_targeting(
        economics,
        units,
        features,
        chosen_scores(scores, None, "oracle"),
        settings,
        ["customer_type", "visits_per_month", "device"],
        {"purchase"},
        fit=quick_fit(True),
    )
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
    table = segments_table(
        pd.DataFrame(columns=["experiment_id", "metric"]),
        experiments,
        settings,
        units,
        features,
        ["customer_type", "device"],
    )
    decision = table[table["dimension"] == "customer_type"].set_index("segment")["decision"]
    assert decision["occasional_shopper"] == "treat"
    assert decision[["brand_loyalist", "premium_connoisseur"]].tolist() == ["hold", "hold"]


def test_a_deployed_policy_that_is_not_configured_fails_clearly():
    with pytest.raises(ValueError, match="var hte_targeting_policy is 'budget'"):
        TargetingSettings(policy="budget").policies_for("coupon_push")
    with pytest.raises(ValueError, match="unknown keys"):
        TargetingSettings(economics={"e": {"margin": "x"}}).economics_for(pd.DataFrame(), "e")


def email_inputs(demo):
    """email_campaign as hte_cate_scores stores it: each arm against control, scored on those two arms' units."""
    eid = "email_campaign"
    units, features = demo_experiment(demo, eid)
    arm_of = units.drop_duplicates("unit_id").set_index("unit_id")["arm"]
    truth = demo["truth"][demo["truth"]["experiment_id"] == eid]
    pairwise = truth[truth["unit_id"].map(arm_of).isin(["no_email"]) | (truth["unit_id"].map(arm_of) == truth["arm"])]
    return units, features, pairwise.rename(columns={"true_effect": "cate"}).assign(fold=0)


def email_targeting(demo, units, features, scores, segment_columns):
    """experiment_targeting of email_campaign with the learner the scores name, quick outcome models and no
    evaluation (what these tests check is where each unit's score comes from)."""
    (learner,) = scores["learner"].unique()
    settings = TargetingSettings(seed=1, bootstrap_replicates=20, curve_points=5, learner=learner)
    economics = settings.economics_for(demo["experiments"], "email_campaign")
    return experiment_targeting(
        economics, units, features, scores, settings, segment_columns, {"visit"}, fit=quick_fit(False), evaluate=False
    )


def test_pairwise_scores_of_a_multi_arm_experiment_fall_back_to_cross_fitted_outcome_models(demo):
    units, features, scores = email_inputs(demo)
    result = email_targeting(
        demo, units, features, scores.assign(learner="oracle"), ["history_segment", "engagement_score"]
    )
    # A unit of one email arm has no score for the other: the policy cannot mix sources, so all come from the
    # outcome models, and every unit is still decided.
    assert len(result.units) == units["unit_id"].nunique()
    assert set(result.units["score_source"]) == {"targeting outcome models (cross-fitted)"}
    assert result.units["best_net_value"].notna().all()


def test_a_constant_learner_scores_every_unit_and_the_stored_dr_score_is_reused(demo):
    units, features, scores = email_inputs(demo)
    means = scores.groupby("arm")["cate"].transform("mean")
    constant = scores.assign(cate=means, learner="constant")
    result = email_targeting(demo, units, features, constant, ["history_segment"])
    assert set(result.units["score_source"]) == {"hte_cate_scores: constant"}
    # No heterogeneity: every unit gets the arm whose average net value is best (content, per docs/demo_truth.md).
    assert set(result.units["chosen_arm"]) == {"content_email"}

    # Two arms: the stored doubly-robust score is the policy value's, with no model fitted here.
    units, features, scores = coupon_inputs(demo)
    dr = scores.assign(dr_score=np.linspace(-1.0, 1.0, len(scores)))
    settings = TargetingSettings(seed=1, bootstrap_replicates=20, curve_points=5, learner="oracle")
    economics = settings.economics_for(demo["experiments"], "coupon_push")

    def no_fit(X, y):
        raise AssertionError("the stored dr_score should have been reused")

    result = experiment_targeting(economics, units, features, dr, settings, ["customer_type"], {"purchase"}, fit=no_fit)
    values = result.policy_value.set_index("policy")
    assert values.loc["treat_all", "dr_source"] == "hte_cate_scores"
    expected = (dr.sort_values("unit_id")["dr_score"].to_numpy() * 2.5 - 0.09).sum()
    assert values.loc["treat_all", "value"] == pytest.approx(expected, rel=1e-9)


def test_a_two_arm_experiment_reusing_its_stored_scores_reads_features_only_for_a_per_unit_benefit(demo):
    # Features are read through a function of the columns wanted, and only when needed: not at all when the stored
    # scores serve both the decisions and the policy value, the benefit column alone when the benefit is per unit.
    units, features, scores = coupon_inputs(demo)
    dr = scores.assign(dr_score=np.linspace(-1.0, 1.0, len(scores)))
    asked = []

    def read(columns):
        asked.append(list(columns))
        return features[["unit_id", *columns]]

    feature_columns = ["customer_type", "visits_per_month", "device"]
    for economics_setting in ({}, {"coupon_push": {"benefit_column": "margin"}}):
        settings = TargetingSettings(
            seed=1, bootstrap_replicates=20, curve_points=5, learner="oracle", economics=economics_setting
        )
        economics = settings.economics_for(demo["experiments"], "coupon_push")
        lazy = experiment_targeting(economics, units, read, dr, settings, feature_columns, {"purchase"})
        whole = experiment_targeting(economics, units, features, dr, settings, feature_columns, {"purchase"})
        pd.testing.assert_frame_equal(lazy.policy_value, whole.policy_value)
        pd.testing.assert_frame_equal(lazy.units, whole.units)
    assert asked == [["margin"]]


def test_policy_value_intervals_resample_whole_clusters(demo):
    units, features, scores = coupon_inputs(demo)
    unit_order = np.sort(units["unit_id"].astype(str).unique())
    cluster_of = pd.Series(np.arange(unit_order.size) // 50, index=unit_order).map(lambda c: f"household_{c}")
    rng = np.random.default_rng(3)
    # Each household's units share one large shock: only a bootstrap that draws households sees that noise.
    shock = rng.normal(scale=5.0, size=cluster_of.nunique())
    scores = scores.sort_values("unit_id").reset_index(drop=True)
    scores["dr_score"] = shock[np.arange(len(scores)) // 50] + rng.normal(scale=0.1, size=len(scores))
    settings = TargetingSettings(seed=1, bootstrap_replicates=200, curve_points=5, learner="oracle")
    economics = settings.economics_for(demo["experiments"], "coupon_push")

    def std_error(frame):
        result = experiment_targeting(
            economics, frame, features, scores, settings, ["customer_type"], {"purchase"}, fit=quick_fit(True)
        )
        return result.policy_value.set_index("policy").loc["treat_all", "std_error"]

    unit_level = std_error(units.assign(cluster_id=None))
    clustered = std_error(units.assign(cluster_id=units["unit_id"].astype(str).map(cluster_of)))
    # 50 units per household: the household-level standard error is about sqrt(50) ~ 7 times the unit-level one.
    assert clustered > 4 * unit_level


def test_targeting_outcome_models_keep_clusters_in_one_fold():
    from hte_engine.targeting.policy_value import cross_fitted_outcomes

    rng = np.random.default_rng(0)
    n = 600
    X = pd.DataFrame({"x": rng.normal(size=n)})
    arm = rng.integers(0, 2, n)
    cluster = np.array([f"c{i // 6}" for i in range(n)], dtype=object)
    _, fold = cross_fitted_outcomes(
        X,
        rng.normal(size=n),
        arm,
        2,
        False,
        folds=5,
        seed=0,
        fit=lambda Xt, yt: lambda Xn: np.full(len(Xn), yt.mean()),
        cluster=cluster,
    )
    assert pd.Series(fold).groupby(cluster).nunique().max() == 1


def test_too_few_clusters_of_an_arm_for_the_targeting_folds_fails_clearly():
    from hte_engine.targeting.policy_value import cross_fitted_outcomes

    n = 60
    X = pd.DataFrame({"x": np.arange(n, dtype=float)})
    arm = np.repeat([0, 1], n // 2)
    # Control spread over 10 clusters, the treated arm in 3: a 5-fold split that keeps clusters whole leaves
    # folds without treated units.
    cluster = np.array([f"c{i % 10}" for i in range(n // 2)] + [f"t{i % 3}" for i in range(n // 2)], dtype=object)
    with pytest.raises(ValueError, match="experiment 'e1': an arm has units in 3 clusters .* hte_targeting_folds"):
        cross_fitted_outcomes(
            X,
            np.zeros(n),
            arm,
            2,
            False,
            folds=5,
            cluster=cluster,
            experiment_id="e1",
            fit=lambda Xt, yt: lambda Xn: np.zeros(len(Xn)),
        )


def test_an_arm_whose_chosen_learner_is_the_constant_goes_to_no_one_when_it_loses_money():
    """Three arms; 'good' helps half of the units (its chosen learner ranks them), 'bad' lowers the outcome a
    little for everyone and its chosen learner is the constant. The multi-arm path refits outcome models for the
    units each pairwise comparison did not score; those models' noise must not send anyone to 'bad'."""
    rng = np.random.default_rng(3)
    n = 6000
    ids = np.array([f"u{i:05d}" for i in range(n)])
    arm = rng.choice(["control", "good", "bad"], n)
    x = rng.normal(size=n)
    effect = np.where(arm == "good", 1.0 * (x > 0), np.where(arm == "bad", -0.05, 0.0))
    y = 1.0 + 0.5 * x + effect + rng.normal(scale=2.0, size=n)
    units = pd.DataFrame(
        {
            "experiment_id": "e",
            "unit_id": ids,
            "arm": arm,
            "metric": "m",
            "y": y,
            "propensity": 1 / 3,
            "cluster_id": None,
        }
    )
    features = pd.DataFrame({"experiment_id": "e", "unit_id": ids, "x": x})
    experiments = pd.DataFrame(
        {
            "experiment_id": "e",
            "arm": ["control", "good", "bad"],
            "is_control": [True, False, False],
            "expected_share": [1 / 3] * 3,
            "target_metric": "m",
            "benefit_per_unit": 1.0,
            "cost_per_treated": [0.0, 0.2, 0.02],
        }
    )
    # Pairwise out-of-fold scores as hte_cate_scores stores them: each arm's scores cover its own comparison's units.
    good_units = np.isin(arm, ["good", "control"])
    bad_units = np.isin(arm, ["bad", "control"])
    scores = pd.concat(
        [
            pd.DataFrame(
                {
                    "experiment_id": "e",
                    "metric": "m",
                    "arm": "good",
                    "learner": "t",
                    "unit_id": ids[good_units],
                    "cate": 1.0 * (x[good_units] > 0),
                    "dr_score": np.nan,
                }
            ),
            pd.DataFrame(
                {
                    "experiment_id": "e",
                    "metric": "m",
                    "arm": "bad",
                    "learner": "constant",
                    "unit_id": ids[bad_units],
                    "cate": -0.05,
                    "dr_score": np.nan,
                }
            ),
        ],
        ignore_index=True,
    )
    settings = TargetingSettings(seed=1, bootstrap_replicates=20, curve_points=5)
    economics = settings.economics_for(experiments, "e")
    result = experiment_targeting(
        economics, units, features, scores, settings, ["x"], set(), fit=quick_fit(False), evaluate=False
    )
    chosen = result.units.set_index("unit_id")["chosen_arm"]
    assert (chosen == "bad").sum() == 0
    assert (chosen.loc[ids[x > 0.5]] == "good").mean() > 0.9


def test_an_experiment_with_an_arm_too_small_to_score_is_skipped_and_the_others_are_decided():
    """Issue: a second experiment with an arm of 3 units made hte_targeting_units and hte_policy_value crash for
    every experiment. Its comparison has a status row in the evaluation (no chosen learner, is_chosen null) and no
    scores: that experiment gets no decisions, the valid one is decided."""
    from hte_engine.targeting.tables import policy_value_table, targeting_units_table

    rng = np.random.default_rng(5)
    n = 3000
    ids = np.array([f"a{i:05d}" for i in range(n)])
    arm = rng.choice(["control", "treat"], n)
    x = rng.normal(size=n)
    y = x + (arm == "treat") * (x > 0) + rng.normal(size=n)
    tiny_ids = np.array([f"b{i:03d}" for i in range(200)])
    tiny_arm = np.where(np.arange(200) < 3, "treat", "control")
    units = pd.concat(
        [
            pd.DataFrame({"experiment_id": "valid", "unit_id": ids, "arm": arm, "metric": "m", "y": y}),
            pd.DataFrame({"experiment_id": "tiny", "unit_id": tiny_ids, "arm": tiny_arm, "metric": "m", "y": 1.0}),
        ],
        ignore_index=True,
    ).assign(cluster_id=None)
    assignments = units[["experiment_id", "unit_id", "arm"]].assign(propensity=np.nan)
    features = pd.concat(
        [
            pd.DataFrame({"experiment_id": "valid", "unit_id": ids, "x": x}),
            pd.DataFrame({"experiment_id": "tiny", "unit_id": tiny_ids, "x": 0.0}),
        ],
        ignore_index=True,
    )
    experiments = pd.DataFrame(
        {
            "experiment_id": ["valid", "valid", "tiny", "tiny"],
            "arm": ["control", "treat", "control", "treat"],
            "is_control": [True, False, True, False],
            "expected_share": 0.5,
            "target_metric": "m",
            "benefit_per_unit": 1.0,
            "cost_per_treated": 0.1,
        }
    )
    scores = pd.DataFrame(
        {
            "experiment_id": "valid",
            "metric": "m",
            "arm": "treat",
            "control_arm": "control",
            "learner": "t",
            "unit_id": ids,
            "cate": 1.0 * (x > 0),
            "dr_score": np.nan,
        }
    )
    evaluation = pd.DataFrame(
        {
            "experiment_id": ["valid", "tiny"],
            "metric": "m",
            "arm": "treat",
            "control_arm": "control",
            "learner": ["t", None],
            "is_chosen": pd.array([True, pd.NA], dtype="boolean"),
        }
    )
    settings = TargetingSettings.from_meta(
        {
            "targeting_seed": 1,
            "targeting_bootstrap_replicates": 20,
            "targeting_curve_points": 5,
            "feature_columns": ["x"],
            "metrics": {"m": {"kind": "continuous"}},
        }
    )
    decided = targeting_units_table(experiments, scores, evaluation, units, assignments, features, settings)
    assert set(decided["experiment_id"]) == {"valid"} and len(decided) == n
    assert (decided.loc[decided["unit_id"].isin(ids[x > 0.3]), "decision"] == "treat").all()
    values = policy_value_table(experiments, scores, evaluation, units, assignments, features, settings)
    assert set(values["experiment_id"]) == {"valid"}


def test_targeting_settings_read_the_run_date_and_refuse_a_malformed_one():
    """hte_targeting_history dates its rows with var hte_run_date: a date (as text or as YAML reads it) is kept,
    unset means today, anything else stops with the var's name instead of dating rows wrongly."""
    import datetime

    assert TargetingSettings.from_meta({"run_date": "2026-04-01"}).run_date == "2026-04-01"
    assert TargetingSettings.from_meta({"run_date": datetime.date(2026, 4, 1)}).run_date == "2026-04-01"
    assert TargetingSettings.from_meta({"run_date": "None"}).run_date is None
    with pytest.raises(ValueError, match="var hte_run_date must be a date written YYYY-MM-DD; got '2026-13-45'"):
        TargetingSettings.from_meta({"run_date": "2026-13-45"})
    # the population models read the same var through the same check
    from hte_engine.targeting import PopulationSettings

    with pytest.raises(ValueError, match="dbt_hte population: var hte_run_date must be a date"):
        PopulationSettings.from_meta({"run_date": "2026-13-45"})
