"""Doubly-robust policy value: the score matches its reference, the bookkeeping is exact, the interval covers the
true value at its nominal rate, and a policy learned out of fold beats the blanket alternatives."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression

from hte_engine.targeting.policies import Assignment, Economics, Policy, assign, net_value
from hte_engine.targeting.policy_value import (
    budget_curve,
    cross_fitted_outcomes,
    doubly_robust_arm_scores,
    evaluate_policies,
)
from hte_engine.uplift.metrics import doubly_robust_effect_score

BENEFIT, COST = 1.0, 0.2


def linear_fit(X, y):
    model = LinearRegression().fit(X, y)
    return model.predict


def simulate(rng, n, arms=1):
    """Randomised 1:1(:1) experiment; arm k's effect is tau_k(x) = 0.5 * x1 * (k-th sign) + shift."""
    X = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    arm_code = rng.integers(0, arms + 1, size=n)
    tau = np.column_stack([0.5 * X["x1"] * (1 if k == 0 else -1) + 0.1 * k for k in range(arms)])
    y = 1 + X["x2"].to_numpy() + rng.normal(size=n)
    treated = arm_code > 0
    y[treated] += tau[treated, arm_code[treated] - 1]
    return X, arm_code, tau, y, np.full(n, 1 / (arms + 1))


def economics(arms=("a",)):
    return Economics("sim", "control", "y", cost_per_treated={a: COST for a in arms}, benefit_per_unit=BENEFIT)


def ids(n):
    return [f"u{i:06d}" for i in range(n)]


def test_one_arm_score_is_the_aipw_score_of_uplift_metrics():
    rng = np.random.default_rng(0)
    n = 500
    y, t = rng.normal(size=n), rng.integers(0, 2, n)
    e = np.where(t == 1, 0.3, 0.7)
    mu = rng.normal(size=(n, 2))
    ours = doubly_robust_arm_scores(y, t, e, mu)[:, 0]
    reference = doubly_robust_effect_score(y, t, np.full(n, 0.3), mu[:, 0], mu[:, 1])
    np.testing.assert_allclose(ours, reference, rtol=1e-12)


def test_multi_arm_scores_average_to_each_arms_effect_when_the_models_are_right():
    rng = np.random.default_rng(1)
    n = 60_000
    X, arm_code, tau, y, e = simulate(rng, n, arms=2)
    mu_true = np.column_stack([1 + X["x2"], 1 + X["x2"] + tau[:, 0], 1 + X["x2"] + tau[:, 1]])
    scores = doubly_robust_arm_scores(y, arm_code, e, mu_true)
    for k in range(2):
        se = scores[:, k].std(ddof=1) / np.sqrt(n)
        assert abs(scores[:, k].mean() - tau[:, k].mean()) < 4 * se


def test_bad_propensities_fail_clearly():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        doubly_robust_arm_scores([1.0], [0], [1.0], np.zeros((1, 2)))


def test_evaluation_bookkeeping_is_exact():
    rng = np.random.default_rng(2)
    n = 2_000
    econ = economics()
    G = rng.normal(0.1, 1.0, (n, 1))
    predicted = net_value(econ, {"y": rng.normal(0.2, 0.3, (n, 1))}, np.ones(n))
    policy = assign(predicted, Policy("budget", budget=50.0), ids(n), econ)
    table = evaluate_policies(
        {"budget": policy}, G, predicted.cost, econ.arms, ids(n), n_replicates=100, seed=3
    ).set_index("policy")
    assert table.loc["treat_none", ["value", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
    assert table.loc["treat_all", "value"] == pytest.approx(G.sum())
    chosen = policy.arm_index >= 0
    assert table.loc["budget", "value"] == pytest.approx(G[chosen, 0].sum())
    assert table.loc["budget", "cost"] <= 50.0 + 1e-9
    # Random at the same budget with a constant cost: the policy's share of everyone, in expectation.
    share = chosen.sum() / n
    assert table.loc["random_at_budget", "value"] == pytest.approx(share * G.sum())
    assert table.loc["random_at_budget", "cost"] == pytest.approx(policy.spend)
    assert table.loc["budget", "difference_vs_treat_all"] == pytest.approx(G[chosen, 0].sum() - G.sum())
    assert table.loc["budget", "difference_vs_random"] == pytest.approx(
        (1 - share) * G[chosen, 0].sum() - share * G[~chosen, 0].sum()
    )
    # The bootstrap se of a total of iid scores is sqrt(n) * sd (closed form), to Monte Carlo error.
    assert table.loc["treat_all", "std_error"] == pytest.approx(np.sqrt(n) * G.std(ddof=1), rel=0.2)


def test_budget_curve_runs_from_nothing_to_treating_everyone():
    rng = np.random.default_rng(4)
    n = 1_000
    econ = economics()
    predicted = net_value(econ, {"y": rng.normal(0.2, 0.3, (n, 1))}, np.ones(n))
    G = rng.normal(0.0, 1.0, (n, 1))
    curve = budget_curve(predicted.value, predicted.cost, G, ids(n), points=11, n_replicates=50)
    assert curve["spend"].iloc[0] == 0 and curve["value"].iloc[0] == 0
    assert curve["spend"].iloc[-1] == pytest.approx(COST * n)
    assert curve["value"].iloc[-1] == pytest.approx(G.sum())
    assert np.all(np.diff(curve["n_treated"]) >= 0)
    assert np.all((curve["ci_low"] <= curve["value"] + 1e-9) & (curve["value"] <= curve["ci_high"] + 1e-9))


def policy_and_truth(seed, n, fit=linear_fit):
    """A threshold policy learned out of fold (T-learner on cross-fitted outcome models) and the true values."""
    rng = np.random.default_rng(seed)
    X, arm_code, tau, y, e = simulate(rng, n)
    mu, _ = cross_fitted_outcomes(X, y, arm_code, 2, binary=False, folds=5, seed=seed, fit=fit)
    econ = economics()
    predicted = net_value(econ, {"y": mu[:, [1]] - mu[:, [0]]}, np.ones(n))
    chosen = assign(predicted, Policy(), ids(n), econ).arm_index >= 0
    true_value = tau[:, 0] * BENEFIT - COST
    return chosen, true_value


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_learned_policy_beats_treat_all_and_none_and_is_near_the_oracle(seed):
    # Stated distance: the learned policy captures at least 95% of the oracle's true value at n = 4000. The
    # effect is linear, so the regret comes only from estimation noise in the slope and the intercept.
    chosen, true_value = policy_and_truth(seed, 4_000)
    policy = true_value[chosen].sum()
    oracle = np.maximum(true_value, 0).sum()
    assert policy >= true_value.sum()
    assert policy >= 0
    assert policy >= 0.95 * oracle


@pytest.mark.slow
def test_learned_policy_with_the_package_base_model_beats_the_blanket_policies():
    from hte_engine.uplift.learners import BaseModel, fit_outcome

    base = BaseModel.from_config({"max_iter": 60}, 0)
    chosen, true_value = policy_and_truth(21, 3_000, fit=lambda X, y: fit_outcome(base, X, y, False))
    policy = true_value[chosen].sum()
    assert policy >= max(true_value.sum(), 0)
    # Boosting must find a linear effect from splits on 2,400 training units: stated distance 60% of the oracle.
    assert policy >= 0.6 * np.maximum(true_value, 0).sum()


def fixed_rule_values(n, data_seed, seed, max_units=None):
    """hte_policy_value's rows (by policy) for the fixed rule pi(x) = 1[x1 > 0] on one simulated experiment, its
    doubly-robust scores from cross-fitted linear outcome models."""
    econ = economics()
    X, arm_code, tau, y, e = simulate(np.random.default_rng(data_seed), n)
    mu, _ = cross_fitted_outcomes(X, y, arm_code, 2, binary=False, folds=2, seed=seed, fit=linear_fit)
    G = net_value(econ, {"y": doubly_robust_arm_scores(y, arm_code, e, mu)}, np.ones(n)).value
    arm_index = np.where(X["x1"].to_numpy() > 0, 0, -1)
    fixed = Assignment(
        arm_index=arm_index,
        decision=np.where(arm_index >= 0, "treat", "hold"),
        reason=np.full(n, None),
        is_exploration=np.zeros(n, dtype=bool),
        expected_net_value=np.zeros(n),
        cost=np.where(arm_index >= 0, COST, 0.0),
    )
    return evaluate_policies(
        {"rule": fixed}, G, np.full((n, 1), COST), econ.arms, ids(n), n_replicates=200, seed=seed, max_units=max_units
    ).set_index("policy")


@pytest.mark.parametrize("value", [-5, 10, "many"])
def test_a_bootstrap_bound_below_the_minimum_or_not_a_number_is_refused_naming_the_var(value):
    from hte_engine.targeting.tables import TargetingSettings
    from hte_engine.uplift.tables import UpliftSettings

    with pytest.raises(ValueError, match="hte_targeting_bootstrap_max_units"):
        TargetingSettings.from_meta({"targeting_bootstrap_max_units": value})
    with pytest.raises(ValueError, match="hte_uplift_bootstrap_max_units"):
        UpliftSettings.from_meta({"uplift_bootstrap_max_units": value, "feature_columns": ["x"]})
    assert TargetingSettings.from_meta({"targeting_bootstrap_max_units": 0}).bootstrap_max_units is None
    assert TargetingSettings.from_meta({}).bootstrap_max_units == 50_000


@pytest.mark.slow
def test_dr_value_interval_covers_the_true_value_at_the_nominal_rate():
    # A fixed policy pi(x) = 1[x1 > 0] with tau = 0.5 x1 and cost 0.2: its true value per unit is
    # 0.5 * phi(0) - 0.2 / 2 (closed form), against treat-all's -0.2. 200 simulated experiments of 1000 units; the
    # 95% bootstrap interval must cover the truth 95% of the time, to 3 binomial standard errors (~4.6 points).
    true_policy = 0.5 * stats.norm.pdf(0) - COST / 2
    true_difference = true_policy - (0.0 - COST)
    n, reps = 1_000, 200
    covered = np.zeros((reps, 2), dtype=bool)
    for r in range(reps):
        table = fixed_rule_values(n, 1_000 + r, seed=r)
        row = table.loc["rule"]
        covered[r, 0] = row["ci_low"] <= n * true_policy <= row["ci_high"]
        covered[r, 1] = (
            row["difference_vs_treat_all_ci_low"] <= n * true_difference <= row["difference_vs_treat_all_ci_high"]
        )
    rate = covered.mean(axis=0)
    tolerance = 3 * np.sqrt(0.95 * 0.05 / reps)
    assert np.all(np.abs(rate - 0.95) < tolerance), rate


def test_replicates_on_a_bounded_sample_keep_the_values_and_match_the_full_bootstraps_spread():
    """hte_targeting_bootstrap_max_units: the replicates are drawn on a hash sample of about m of n units and
    rescaled. The values are every unit's (identical); the standard errors and the budget curve's band agree with
    the bootstrap on every unit within 25%, the closed form sqrt(n) * sd of a total among them."""
    rng = np.random.default_rng(8)
    n, m = 40_000, 8_000
    econ = economics()
    G = rng.normal(0.1, 1.0, (n, 1))
    predicted = net_value(econ, {"y": rng.normal(0.2, 0.3, (n, 1))}, np.ones(n))
    policy = assign(predicted, Policy("budget", budget=2_000.0), ids(n), econ)
    tables = {
        bound: evaluate_policies(
            {"budget": policy}, G, predicted.cost, econ.arms, ids(n), n_replicates=200, seed=3, max_units=bound
        ).set_index("policy")
        for bound in (None, m)
    }
    full, bounded = tables[None], tables[m]
    assert (full["bootstrap_units"] == n).all() and bounded["bootstrap_units"].between(0.9 * m, 1.1 * m).all()
    pd.testing.assert_series_equal(bounded["value"], full["value"])
    for name in ("treat_all", "budget", "random_at_budget"):
        assert 0.75 < bounded.loc[name, "std_error"] / full.loc[name, "std_error"] < 1.33, name
    for name in ("budget", "random_at_budget"):  # paired differences (treat_all's own is exactly zero)
        width = {
            bound: t.loc[name, "difference_vs_treat_all_ci_high"] - t.loc[name, "difference_vs_treat_all_ci_low"]
            for bound, t in tables.items()
        }
        assert 0.75 < width[m] / width[None] < 1.33, name
    assert bounded.loc["treat_all", "std_error"] == pytest.approx(np.sqrt(n) * G.std(ddof=1), rel=0.25)

    curves = {
        bound: budget_curve(predicted.value, predicted.cost, G, ids(n), points=11, n_replicates=200, max_units=bound)
        for bound in (None, m)
    }
    pd.testing.assert_series_equal(curves[m]["value"], curves[None]["value"])
    width = {bound: (c["ci_high"] - c["ci_low"]).to_numpy()[1:] for bound, c in curves.items()}
    assert np.all((0.75 < width[m] / width[None]) & (width[m] / width[None] < 1.33)), width[m] / width[None]


def test_the_budget_curve_of_a_sample_counts_only_its_units_along_the_whole_populations_path(monkeypatch):
    # The curve's statistic on a sample walks the sample's upgrades only. It must equal the definition computed
    # here step by step: along the whole population's path (hull_upgrades), at each spend, the upgrades completed
    # within it plus the straddling one pro rata, each counted with its unit's weight (zero outside the sample),
    # scaled by the sample's size over its total weight. Two arms, so that units move from one arm to the next.
    import hte_engine.targeting.policy_value as policy_value
    from hte_engine.resampling import bounded_bootstrap
    from hte_engine.targeting.policies import hull_upgrades

    rng = np.random.default_rng(9)
    n, points = 3_000, 13
    econ = Economics("sim", "control", "y", cost_per_treated={"a": 0.2, "b": 0.5}, benefit_per_unit=1.0)
    predicted = net_value(econ, {"y": rng.normal(0.3, 0.4, (n, 2))}, np.ones(n))
    G = rng.normal(0.1, 1.0, (n, 2))
    captured = {}

    def capturing(statistic_of, *args):
        captured["statistic_of"] = statistic_of
        return bounded_bootstrap(statistic_of, *args)

    monkeypatch.setattr(policy_value, "bounded_bootstrap", capturing)
    budget_curve(predicted.value, predicted.cost, G, ids(n), points=points, n_replicates=2)

    up = hull_upgrades(predicted.value, predicted.cost, None, positive_only=False)
    gain = G[up.unit, up.to_arm] - np.where(up.from_arm >= 0, G[up.unit, np.maximum(up.from_arm, 0)], 0.0)
    ends = np.cumsum(up.d_cost)

    def defined(unit_weight):
        values = []
        for spend in np.linspace(0.0, ends[-1], points):
            done = int(np.sum(ends <= spend))
            value = np.sum(gain[:done] * unit_weight[up.unit[:done]])
            if done < up.unit.size:
                value += (
                    (spend - (ends[done - 1] if done else 0.0))
                    / up.d_cost[done]
                    * gain[done]
                    * unit_weight[up.unit[done]]
                )
            values.append(value)
        return np.array(values)

    rows = np.sort(rng.choice(n, 700, replace=False))
    weight = rng.poisson(1.0, rows.size).astype(float)
    for sample_weight in (weight, None):
        unit_weight = np.zeros(n)
        unit_weight[rows] = 1.0 if sample_weight is None else sample_weight
        scale = 1.0 if sample_weight is None else rows.size / sample_weight.sum()
        np.testing.assert_allclose(
            captured["statistic_of"](rows)(sample_weight), scale * defined(unit_weight), rtol=1e-9, atol=1e-9
        )
    np.testing.assert_allclose(captured["statistic_of"](slice(None))(None), defined(np.ones(n)), rtol=1e-9, atol=1e-9)


@pytest.mark.slow
def test_dr_value_interval_from_a_bounded_bootstrap_covers_the_true_value_at_the_nominal_rate():
    # As the test above, with 4,000 units per experiment and the replicates drawn on about 1,000 of them.
    true_policy = 0.5 * stats.norm.pdf(0) - COST / 2
    n, reps = 4_000, 200
    covered = np.zeros(reps, dtype=bool)
    for r in range(reps):
        row = fixed_rule_values(n, 5_000 + r, seed=r, max_units=1_000).loc["rule"]
        covered[r] = row["ci_low"] <= n * true_policy <= row["ci_high"]
    assert abs(covered.mean() - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps), covered.mean()
