"""Targeting policies: constraints are never violated, the budget greedy is the LP optimum, bad settings fail
with a sentence that names the fix."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from hte_engine.targeting.policies import Economics, Policy, assign, hull_upgrades, net_value
from hte_engine.targeting.policy_value import budget_curve


def economics(arms=("a",), costs=None, **kw) -> Economics:
    costs = costs or {arm: 1.0 for arm in arms}
    return Economics("exp", "control", "y", cost_per_treated=dict(costs), benefit_per_unit=1.0, **kw)


def ids(n):
    return [f"u{i:05d}" for i in range(n)]


def random_net(rng, n, k, cost_low=0.0):
    econ = economics(
        arms=tuple(f"arm{j}" for j in range(k)), costs={f"arm{j}": float(rng.uniform(cost_low, 2)) for j in range(k)}
    )
    tau = rng.normal(0.5, 1.0, (n, k))
    return econ, net_value(econ, {"y": tau}, np.ones(n))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 60),
    k=st.integers(1, 3),
    budget=st.floats(0, 40),
    capacity=st.integers(0, 70),
    explore=st.sampled_from([0.0, 0.1]),
)
def test_budget_and_capacity_are_never_exceeded(seed, n, k, budget, capacity, explore):
    rng = np.random.default_rng(seed)
    econ, net = random_net(rng, n, k)
    for policy in (
        Policy("budget", budget=budget, exploration_share=explore, seed=seed),
        Policy("capacity", capacity=capacity, exploration_share=explore, seed=seed),
    ):
        try:
            a = assign(net, policy, ids(n), econ)
        except ValueError as err:
            # The only allowed failure: exploration alone already breaks the constraint, said in words.
            assert "exploration share" in str(err)
            continue
        if policy.kind == "budget":
            assert a.spend <= budget + 1e-9
        else:
            assert a.n_treated <= capacity
        # Outside exploration, no unit is ever given an arm that loses money by its own estimate.
        chosen = ~a.is_exploration & (a.arm_index >= 0)
        assert np.all(a.expected_net_value[chosen] > 0)


def brute_force(value, cost, budget):
    n, k = value.shape
    best = 0.0
    for choice in itertools.product(range(-1, k), repeat=n):
        c = sum(cost[i, a] for i, a in enumerate(choice) if a >= 0)
        if c <= budget + 1e-12:
            best = max(best, sum(value[i, a] for i, a in enumerate(choice) if a >= 0))
    return best


def lp_relaxation(value, cost, budget):
    """The multiple-choice knapsack LP: x_ik >= 0, sum_k x_ik <= 1, sum c x <= B, maximise sum v x (scipy)."""
    n, k = value.shape
    a_unit = np.kron(np.eye(n), np.ones(k))
    res = linprog(
        -value.ravel(),
        A_ub=np.vstack([a_unit, cost.ravel()]),
        b_ub=np.r_[np.ones(n), budget],
        bounds=(0, None),
        method="highs",
    )
    return -res.fun


@pytest.mark.parametrize("seed", range(12))
def test_budget_policy_is_within_one_upgrade_of_the_lp_bound_and_never_beats_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, k = 6, 1 + seed % 3
    econ, net = random_net(rng, n, k, cost_low=0.05)
    budget = float(rng.uniform(0.5, 4))
    a = assign(net, Policy("budget", budget=budget), ids(n), econ)
    achieved = a.expected_net_value.sum()
    lp = lp_relaxation(net.value, net.cost, budget)
    assert achieved <= brute_force(net.value, net.cost, budget) + 1e-9 <= lp + 2e-9
    up = hull_upgrades(net.value, net.cost)
    assert achieved >= lp - (up.d_value.max() if up.d_value.size else 0) - 1e-9


@pytest.mark.parametrize("seed", range(8))
def test_budget_curve_path_is_the_lp_optimum_at_every_spend(seed):
    # The curve's predicted value at spend s is the LP relaxation optimum at budget s (scipy's HiGHS), so the
    # path is the efficient frontier, not a heuristic.
    rng = np.random.default_rng(100 + seed)
    n, k = 8, 1 + seed % 3
    _, net = random_net(rng, n, k, cost_low=0.05)
    curve = budget_curve(net.value, net.cost, net.value, ids(n), points=9, n_replicates=2)
    up = hull_upgrades(net.value, net.cost)
    peak = up.spend[-1] if up.unit.size else 0.0
    for spend, predicted in zip(curve["spend"], curve["predicted_value"]):
        optimum = lp_relaxation(net.value, net.cost, spend)
        if spend <= peak:
            assert predicted == pytest.approx(optimum, abs=1e-7)
        else:
            # Past the peak the curve goes on treating units that lose money; the LP would leave budget unused.
            assert predicted <= optimum + 1e-9
    assert curve["n_treated"].iloc[-1] == pytest.approx(n)


def test_threshold_gives_each_unit_its_best_arm_or_nothing_and_says_why():
    econ = economics(arms=("a", "b"), costs={"a": 1.0, "b": 2.0})
    tau = np.array(
        [
            [3.0, 5.0],  # b is worth 3 > a's 2
            [0.5, 1.0],  # both lose money
            [2.0, 1.0],  # a
            [1.5, 2.5],
        ]
    )  # a 0.5, b 0.5: tie -> the first arm in the economics' order
    a = assign(net_value(econ, {"y": tau}, np.ones(4)), Policy(), ids(4), econ)
    table = a.table(ids(4), econ.arms, econ.control_arm)
    assert table["chosen_arm"].tolist() == ["b", "control", "a", "a"]
    assert table["decision"].tolist() == ["treat", "hold", "treat", "treat"]
    assert list(a.reason) == [None, "negative value", None, None]
    assert table["reason"].isna().tolist() == [True, False, True, True]
    assert table["expected_net_value"].tolist() == [3.0, 0.0, 1.0, 0.5]


def test_capacity_and_top_k_keep_the_most_valuable_units_and_name_the_rest():
    econ = economics()
    tau = np.array([[5.0], [2.0], [4.0], [0.5], [3.0]])
    net = net_value(econ, {"y": tau}, np.ones(5))
    a = assign(net, Policy("capacity", capacity=2), ids(5), econ)
    assert a.arm_index.tolist() == [0, -1, 0, -1, -1]
    assert list(a.reason) == [None, "over capacity", None, "negative value", "over capacity"]
    b = assign(net, Policy("top_k", top_k=0.4), ids(5), econ)
    assert b.arm_index.tolist() == a.arm_index.tolist()
    assert b.reason[1] == "outside top k"


def test_risk_constraint_never_treats_above_the_limit():
    rng = np.random.default_rng(3)
    econ = economics(arms=("a", "b"), risk_metric="churn", risk_penalty_per_unit=0.5, risk_limit=0.02)
    n = 500
    effects = {"y": rng.normal(1.5, 1, (n, 2)), "churn": rng.normal(0, 0.03, (n, 2))}
    net = net_value(econ, effects, np.ones(n))
    np.testing.assert_allclose(net.value, effects["y"] - 1.0 - 0.5 * effects["churn"])
    a = assign(net, Policy(), ids(n), econ)
    treated = a.arm_index >= 0
    assert np.all(effects["churn"][treated, a.arm_index[treated]] <= 0.02)
    blocked = (net.value > 0).any(axis=1) & ~((net.value > 0) & (effects["churn"] <= 0.02)).any(axis=1)
    assert blocked.any() and np.all(a.reason[blocked] == "risk")


def test_per_unit_cost_from_a_second_metric_and_per_unit_benefit():
    econ = economics(costs={"a": 0.1}, cost_metric="redeem", cost_per_metric_unit=10.0, benefit_column="margin")
    features = pd.DataFrame({"margin": [2.0, 4.0]})
    from hte_engine.targeting.policies import unit_benefit

    benefit = unit_benefit(econ, features, 2)
    net = net_value(econ, {"y": np.array([[0.5], [0.5]]), "redeem": np.array([[0.05], [0.2]])}, benefit)
    np.testing.assert_allclose(net.cost[:, 0], [0.1 + 0.5, 0.1 + 2.0])
    np.testing.assert_allclose(net.value[:, 0], [1.0 - 0.6, 2.0 - 2.1])


def test_uncertainty_screen_holds_units_whose_value_is_within_noise():
    econ = economics()
    net = net_value(econ, {"y": np.array([[1.5], [3.0]])}, np.ones(2))
    a = assign(net, Policy(uncertainty_z=1.96), ids(2), econ, value_se=np.array([0.5, 0.5]))
    assert a.arm_index.tolist() == [-1, 0]
    assert a.reason[0] == "too uncertain"


def test_exploration_share_is_marked_seeded_and_independent_of_row_order():
    rng = np.random.default_rng(7)
    n = 20_000
    econ, net = random_net(rng, n, 2)
    policy = Policy("threshold", exploration_share=0.1, seed=11)
    a = assign(net, policy, ids(n), econ)
    share = a.is_exploration.mean()
    assert abs(share - 0.1) < 4 * np.sqrt(0.1 * 0.9 / n)
    assert np.all(a.decision[a.is_exploration] == "explore")
    assert np.all(a.reason[a.is_exploration] == "random exploration")
    # Explored units get control or either arm with probability 1/3 each.
    counts = np.bincount(a.arm_index[a.is_exploration] + 1, minlength=3) / a.is_exploration.sum()
    assert np.all(np.abs(counts - 1 / 3) < 4 * np.sqrt(2 / 9 / a.is_exploration.sum()))
    perm = rng.permutation(n)
    b = assign(type(net)(net.value[perm], net.cost[perm], None), policy, np.asarray(ids(n))[perm], econ)
    np.testing.assert_array_equal(b.arm_index, a.arm_index[perm])
    np.testing.assert_array_equal(b.is_exploration, a.is_exploration[perm])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "budget", "budget": -5.0}, "non-negative budget"),
        ({"kind": "budget"}, "non-negative budget"),
        ({"kind": "capacity", "capacity": 2.5}, "whole number"),
        ({"kind": "top_k", "top_k": 1.5}, "between 0 and 1"),
        ({"kind": "best_guess"}, "unknown policy 'best_guess'"),
        ({"exploration_share": 1.0}, "exploration_share"),
    ],
)
def test_bad_policy_settings_fail_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Policy(**kwargs)


def experiments_frame(**overrides):
    frame = pd.DataFrame(
        {
            "experiment_id": ["e", "e"],
            "arm": ["control", "promo"],
            "is_control": [True, False],
            "expected_share": [0.5, 0.5],
            "target_metric": ["purchase", "purchase"],
            "benefit_per_unit": [2.0, 2.0],
            "cost_per_treated": [0.0, 0.1],
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


@pytest.mark.parametrize(
    "overrides, settings_, message",
    [
        ({"benefit_per_unit": [None, None]}, {}, "'benefit_per_unit' is missing"),
        ({"cost_per_treated": [0.0, None]}, {}, "'cost_per_treated' is missing for arm 'promo'"),
        ({"cost_per_treated": [0.0, -1.0]}, {}, "cannot be negative"),
        ({"target_metric": [None, None]}, {}, "'target_metric' is empty"),
        ({"is_control": [False, False]}, {}, "0 control arms"),
        ({}, {"risk_limit": 0.1}, "no risk metric"),
        ({}, {"risk_metric": "purchase"}, "is the target metric"),
    ],
)
def test_missing_or_inconsistent_economics_fail_naming_experiment_and_column(overrides, settings_, message):
    with pytest.raises(ValueError, match=message) as err:
        Economics.from_experiments(experiments_frame(**overrides), "e", **settings_)
    assert "experiment 'e'" in str(err.value)


def test_unknown_experiment_and_missing_metric_fail_clearly():
    with pytest.raises(ValueError, match="experiment 'nope': is not in hte_experiments"):
        Economics.from_experiments(experiments_frame(), "nope")
    econ = Economics.from_experiments(experiments_frame(), "e", cost_metric="redeem", cost_per_metric_unit=5.0)
    with pytest.raises(ValueError, match="no effect estimates for metric 'redeem'"):
        net_value(econ, {"purchase": np.zeros((3, 1))}, np.ones(3))
    econ = Economics.from_experiments(experiments_frame(), "e", benefit_column="margin")
    from hte_engine.targeting.policies import unit_benefit

    with pytest.raises(ValueError, match="benefit column 'margin'"):
        unit_benefit(econ, pd.DataFrame({"other": [1.0]}), 1)


def test_negative_expected_costs_are_refused_by_the_budget_policy():
    econ = economics(cost_metric="redeem", cost_per_metric_unit=10.0)
    net = net_value(econ, {"y": np.array([[2.0]]), "redeem": np.array([[-0.5]])}, np.ones(1))
    with pytest.raises(ValueError, match="negative expected cost"):
        assign(net, Policy("budget", budget=1.0), ids(1), econ)
