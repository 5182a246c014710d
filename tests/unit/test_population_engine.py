"""The deployment models and the population's decisions, in the engine alone (no dbt): a deployment model is the
chosen learner's definition fitted on every unit, a stored model predicts what the fitted one did, and the policy
test's groups and decisions do not depend on batches or row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hte_engine.targeting.deployment import deserialise, fit_deployment, serialise, training_fingerprint
from hte_engine.targeting.policies import Economics, Policy
from hte_engine.targeting.population import (
    ExperimentDeployment,
    PopulationSettings,
    _decide_locally,
    decide_batch,
    score_batch,
)
from hte_engine.uplift.crossfit import CrossFitConfig
from hte_engine.uplift.features import prepare_features
from hte_engine.uplift.learners import BaseModel, OutcomeModels, TrainingSample
from hte_engine.uplift.tables import ComparisonPlan, UpliftSettings
from population_inputs import deployed_run

FAST = {"max_iter": 30, "learning_rate": 0.1, "early_stopping": False, "min_samples_leaf": 40}
FEATURES = ["tenure", "score", "device"]


def comparison(n=1200, seed=0, binary=False) -> ComparisonPlan:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "unit_id": [f"u{i:05d}" for i in range(n)],
            "tenure": rng.exponential(30, n),
            "score": rng.normal(size=n),
            "device": rng.choice(["mobile", "desktop"], n),
        }
    )
    t = (rng.random(n) < 0.5).astype(int)
    tau = 0.5 * (frame["score"] > 0) + 0.3 * (frame["device"] == "mobile")
    frame["y"] = 0.4 * frame["score"] + t * tau + rng.normal(size=n)
    frame["arm"] = np.where(t == 1, "treatment", "control")
    frame["treated"] = t
    frame["cluster_id"] = None
    frame["propensity"] = np.nan
    # Rows arrive in no particular order from a warehouse.
    frame = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    plan = ComparisonPlan("exp", "y", "treatment", "control", binary, int(t.sum()), int(n - t.sum()), 0.5, 0.5, 2)
    plan.features_used = list(FEATURES)
    plan.units = frame
    return plan


def settings(**crossfit) -> UpliftSettings:
    return UpliftSettings(
        feature_columns=tuple(FEATURES),
        crossfit=CrossFitConfig(base_model=FAST, seed=7, winsorize_quantile=None, **crossfit),
    )


def test_constant_deployment_is_the_difference_in_means_of_all_units():
    plan = comparison()
    fit = fit_deployment(plan, "constant", settings())
    y, t = plan.units["y"], plan.units["treated"]
    expected = y[t == 1].mean() - y[t == 0].mean()
    assert fit.deployment.predict(plan.units.head(5)) == pytest.approx(np.full(5, expected), rel=1e-12)
    assert fit.n_training_rows == len(plan.units)


def test_t_learner_deployment_is_the_learner_fitted_on_every_unit_with_its_seed():
    plan = comparison()
    fit = fit_deployment(plan, "t", settings())
    ordered = plan.units.sort_values("unit_id", ignore_index=True)
    X = prepare_features(ordered, FEATURES)
    sample = TrainingSample(
        X=X,
        y=ordered["y"].to_numpy(),
        treated=ordered["treated"].to_numpy(),
        propensity=np.full(len(ordered), 0.5),
        binary=False,
    )
    by_hand = OutcomeModels.fit(BaseModel.from_config(FAST, 7), sample)
    new = comparison(n=300, seed=5).units
    Xn = prepare_features(new, FEATURES)
    np.testing.assert_allclose(fit.deployment.predict(new), by_hand.mu1(Xn) - by_hand.mu0(Xn), rtol=0, atol=1e-12)
    # The stored model predicts exactly what the fitted one does.
    blob, sha = serialise(fit.deployment)
    np.testing.assert_array_equal(deserialise(blob).predict(new), fit.deployment.predict(new))
    assert len(sha) == 64


def test_the_fingerprint_changes_with_any_outcome_and_not_with_row_order():
    plan = comparison()
    u, t, y = plan.units["unit_id"], plan.units["treated"], plan.units["y"].to_numpy()
    base = training_fingerprint(u, t, y)
    order = np.random.default_rng(0).permutation(len(u))
    assert training_fingerprint(u.iloc[order], t.iloc[order], y[order]) == base
    changed = y.copy()
    changed[17] += 1e-9
    assert training_fingerprint(u, t, changed) != base


def _experiment(fit) -> ExperimentDeployment:
    economics = Economics("exp", "control", "y", {"treatment": 0.2}, benefit_per_unit=1.0)
    return ExperimentDeployment(
        "exp", economics, Policy("threshold"), {("y", "treatment"): fit.deployment}, None, "y/treatment: t"
    )


def _population(n=2000, seed=9) -> pd.DataFrame:
    frame = comparison(n=n, seed=seed).units[["unit_id", *FEATURES]].copy()
    frame["is_eligible"] = True
    frame["ineligible_reason"] = None
    frame["is_frequency_capped"] = False
    frame["n_recent_contacts"] = 0
    return frame


def test_unseen_levels_out_of_range_and_missing_values_are_not_scored():
    fit = fit_deployment(comparison(), "t", settings())
    exp = _experiment(fit)
    config = PopulationSettings(settings(), None, "2026-04-01", holdout_share=0.0, exploration_share=0.0)
    pop = _population(6)
    pop.loc[0, "device"] = "smart_tv"
    pop.loc[1, "tenure"] = 1e6
    pop.loc[2, "score"] = np.nan
    rows = decide_batch(score_batch(pop, exp, config), exp, config, None, None)
    assert rows.loc[0, "reason"] == (
        "outside the experiment's support (not extrapolated): device = 'smart_tv' never seen in the experiment"
    )
    assert rows.loc[1, "reason"].startswith(
        "outside the experiment's support (not extrapolated): tenure = 1e+06 above the experiment's largest value"
    )
    assert rows.loc[2, "reason"] == "missing feature values the experiment never had: score"
    assert rows.loc[:2, "predicted_effects"].isna().all() and (rows.loc[:2, "chosen_arm"] == "control").all()
    assert rows.loc[3:, "predicted_effects"].notna().all()


def test_decisions_do_not_depend_on_batches_or_row_order():
    fit = fit_deployment(comparison(), "t", settings())
    exp = _experiment(fit)
    config = PopulationSettings(settings(), None, "2026-04-01", holdout_share=0.1, exploration_share=0.1)
    pop = _population()

    def decide(frame):
        batch = score_batch(frame.reset_index(drop=True), exp, config)
        return _decide_locally(batch, exp, config, None)

    whole = decide(pop).sort_values("unit_id", ignore_index=True)
    shuffled = pop.sample(frac=1.0, random_state=3)
    parts = pd.concat([decide(shuffled.iloc[i : i + 333]) for i in range(0, len(shuffled), 333)])
    pd.testing.assert_frame_equal(parts.sort_values("unit_id", ignore_index=True), whole)
    assert set(whole["decision"]) == {"treat", "hold", "holdout", "explore"}


def test_decile_calibration_is_monotone_interpolated_and_never_extrapolates():
    from hte_engine.targeting.population import DecileCalibration

    deciles = pd.DataFrame(
        {
            "mean_predicted": [0.0, 0.1, 0.2, 0.3],
            "observed_lift": [0.01, 0.05, 0.03, 0.2],
            "n_units": [100, 100, 100, 100],
        }
    )
    calibrate = DecileCalibration.from_deciles(deciles)
    # Isotonic: the dip at 0.2 is pooled with 0.1 (equal weights: both 0.04).
    np.testing.assert_allclose(calibrate.calibrated, [0.01, 0.04, 0.04, 0.2])
    np.testing.assert_allclose(calibrate(np.array([-1.0, 0.05, 0.25, 9.0])), [0.01, 0.025, 0.12, 0.2])
    tied = DecileCalibration.from_deciles(deciles.iloc[[2]])
    np.testing.assert_allclose(tied(np.array([0.0, 5.0])), [0.03, 0.03])


def test_an_experiment_without_a_deployed_model_still_decides_every_unit_with_the_reason():
    economics = Economics("exp", "control", "y", {"treatment": 0.2}, benefit_per_unit=1.0)
    exp = ExperimentDeployment(
        "exp",
        economics,
        Policy("threshold"),
        {},
        "no deployed model for metric 'y' arm 'treatment': every unit has the same outcome (0)",
        "",
    )
    config = PopulationSettings(settings(), None, "2026-04-01", holdout_share=0.1, exploration_share=0.0)
    rows = _decide_locally(score_batch(_population(500), exp, config), exp, config, None)
    policy = rows[rows["holdout_group"] == "policy"]
    assert len(policy) and (policy["reason_code"] == "no_model").all() and (policy["decision"] == "hold").all()
    assert policy["reason"].str.startswith("not scored: no deployed model for metric 'y'").all()
    assert (rows.loc[rows["holdout_group"] == "holdout", "decision"] == "holdout").all()


def test_budget_policy_spends_at_most_the_budget_net_of_the_policy_test_across_batches():
    from hte_engine.targeting.population import iter_population_targeting

    fit = fit_deployment(comparison(), "t", settings())
    runs = deployed_run(fit.deployment, "exp", "y", "treatment")
    experiments = pd.DataFrame(
        {
            "experiment_id": "exp",
            "arm": ["control", "treatment"],
            "is_control": [True, False],
            "expected_share": 0.5,
            "target_metric": "y",
            "benefit_per_unit": 1.0,
            "cost_per_treated": [0.0, 0.2],
        }
    )
    pop = _population(3000).assign(batch_id=lambda f: np.arange(len(f)) // 700)
    config = PopulationSettings.from_meta(
        {
            "run_date": "2026-04-01",
            "targeting_policy": "budget",
            "targeting_budget": 150.0,
            "population_holdout_share": 0.1,
            "population_exploration_share": 0.1,
        }
    )
    rows = pd.concat(list(iter_population_targeting(pop, runs, experiments, config)), ignore_index=True)
    assert len(rows) == len(pop) and rows["unit_id"].is_unique
    assert rows["expected_cost"].sum() <= 150.0 + 1e-9
    test_spend = rows.loc[rows["holdout_group"] == "exploration", "expected_cost"].sum()
    treated = rows[rows["decision"] == "treat"]
    assert test_spend > 0 and len(treated) == int(np.floor((150.0 - test_spend) / 0.2 + 1e-9))
    exhausted = rows[rows["reason_code"] == "budget_exhausted"]
    # With one arm and one cost, the budget goes to the highest values first.
    assert len(exhausted) and treated["expected_net_value"].min() >= exhausted["best_net_value"].max()


def test_business_as_usual_can_be_an_arm_per_experiment():
    fit = fit_deployment(comparison(), "t", settings())
    exp = _experiment(fit)
    config = PopulationSettings(
        settings(),
        None,
        "2026-04-01",
        holdout_share=0.2,
        exploration_share=0.0,
        holdout_arm={"exp": "treatment", "other": "email"},
    )
    rows = _decide_locally(score_batch(_population(1000), exp, config), exp, config, None)
    held = rows[rows["holdout_group"] == "holdout"]
    assert len(held) and (held["chosen_arm"] == "treatment").all() and (held["decision"] == "holdout").all()
    assert held["reason"].str.endswith("arm 'treatment' for every held-out unit").all()
