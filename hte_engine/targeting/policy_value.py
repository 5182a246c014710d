"""What a targeting policy is worth: doubly-robust value on out-of-fold data, with bootstrap intervals.

For a policy pi that gives unit i arm pi(x_i) (control = do nothing), the incremental net value against treating
nobody is estimated by

    V_hat(pi) = sum_i G_i(pi(x_i)),     G_i(k) = Gamma_i(k) * benefit_i - cost_i(k) - penalty * Gamma_i^risk(k)

with G_i(control) = 0 and Gamma_i(k) the augmented inverse-propensity (AIPW) score of arm k against control
(Robins, Rotnitzky & Zhao 1994; for policies Athey & Wager 2021, "Policy learning with observational data"):

    Gamma_i(k) = mu_k(x_i) - mu_0(x_i) + 1[A_i = k] (Y_i - mu_k(x_i)) / e_i - 1[A_i = 0] (Y_i - mu_0(x_i)) / e_i

where e_i is the probability of the arm unit i received. Every term is computed out of fold: the outcome models
mu are cross-fitted (K folds stratified by arm, seeded), and the policy is built from CATE scores that were
themselves out of fold, so no unit is judged by a model that saw it. Totals are over the scored units, the same
population the budget and the capacity count.

Alternatives reported beside each policy: treat nobody (exactly 0), treat everyone with each arm, and random
targeting at the same budget: every unit gets arm k with probability q_k = (policy's spend on k) / (cost of giving
k to everyone), whose expected spend equals the policy's. Its value is computed in expectation (no draw), so it
carries no extra noise. Intervals are percentile intervals of a seeded Poisson bootstrap keyed on unit ids, or
cluster ids where assignments carry them (``resampling.resampling_keys``), that resamples the evaluation with
the policy held fixed; differences between policies use the same replicates (paired). Above ``max_units`` units
(var hte_targeting_bootstrap_max_units) the replicates are drawn on a seeded hash sample of about that many and
their spread rescaled to every unit (``resampling.bounded_bootstrap``, an m-out-of-n bootstrap): the values stay
every unit's, and a replicate's cost no longer grows with the experiment (6 M units at the 10 M-unit benchmark).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from hte_engine.resampling import bounded_bootstrap
from hte_engine.targeting.policies import Assignment, at_chosen_arm, hull_upgrades
from hte_engine.uplift.crossfit import assign_folds, clusters_per_arm
from hte_engine.uplift.learners import BaseModel, fit_outcome

OutcomeFitter = Callable[[pd.DataFrame, np.ndarray], Callable[[pd.DataFrame], np.ndarray]]


def cross_fitted_outcomes(
    X: pd.DataFrame,
    y,
    arm_code,
    n_arms: int,
    binary: bool,
    folds: int = 5,
    seed: int = 0,
    fit: OutcomeFitter | None = None,
    cluster=None,
    experiment_id: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold mu_a(x_i) = E[Y | x_i, arm a] for every unit and arm (column 0 = control), and the folds.

    ``arm_code`` is 0 for control and 1..K for the treatment arms. ``fit`` returns a predictor from (X, y); by
    default the package's base model (scikit-learn HistGradientBoosting, ``learners.BaseModel``). ``cluster``
    (``resampling.resampling_keys``) keeps each cluster in one fold, so that no unit's outcome model saw a
    cluster-mate sharing its noise.
    """
    y = np.asarray(y, dtype=float)
    arm_code = np.asarray(arm_code, dtype=int)
    if fit is None:
        base = BaseModel.from_config(None, seed)

        def fit(Xt, yt):
            return fit_outcome(base, Xt, yt, binary)

    counts = np.bincount(arm_code, minlength=n_arms)
    where = f"experiment '{experiment_id}': " if experiment_id else ""
    if counts.min() < folds:
        raise ValueError(
            f"dbt_hte targeting: {where}an arm has {int(counts.min())} units, fewer than the {folds} folds of the "
            "policy evaluation (var hte_targeting_folds); every fold needs units of every arm."
        )
    if cluster is not None:
        per_arm = clusters_per_arm(arm_code, cluster)
        fewest = min(per_arm.get(a, 0) for a in range(n_arms))
        if fewest < folds:
            raise ValueError(
                f"dbt_hte targeting: {where}an arm has units in {fewest} clusters (cluster_id), fewer than the "
                f"{folds} folds of the policy evaluation (var hte_targeting_folds); folds keep clusters whole, so "
                "every fold needs clusters of every arm. Lower hte_targeting_folds."
            )
    fold = assign_folds(arm_code, folds, seed, cluster)
    mu = np.empty((y.size, n_arms))
    # One OpenMP thread per fit: on the few shared cores a dbt run gets, boosting threads spin-wait on each other
    # (the same finding as ``crossfit``).
    with threadpool_limits(limits=1, user_api="openmp"):
        for k in range(folds):
            held = fold == k
            for a in range(n_arms):
                train = (fold != k) & (arm_code == a)
                mu[held, a] = fit(X.loc[train], y[train])(X.loc[held])
    return mu, fold


def doubly_robust_arm_scores(y, arm_code, propensity, mu) -> np.ndarray:
    """AIPW score Gamma_i(k) of every treatment arm k = 1..K against control (column 0 of ``mu``): (n, K)."""
    y = np.asarray(y, dtype=float)
    arm_code = np.asarray(arm_code, dtype=int)
    e = np.asarray(propensity, dtype=float)
    mu = np.asarray(mu, dtype=float)
    if np.any(~np.isfinite(e)) or np.any(e <= 0) or np.any(e >= 1):
        raise ValueError(
            "dbt_hte targeting: propensities must lie strictly between 0 and 1 for the doubly-robust "
            "policy value; check stg_hte_assignments.propensity or the arms' expected_share."
        )
    n, arms = mu.shape
    residual = (y - mu[np.arange(n), arm_code]) / e
    control_term = np.where(arm_code == 0, residual, 0.0)
    scores = np.empty((n, arms - 1))
    for k in range(1, arms):
        scores[:, k - 1] = mu[:, k] - mu[:, 0] + np.where(arm_code == k, residual, 0.0) - control_term
    return scores


def random_arm_shares(assignment: Assignment, cost: np.ndarray) -> np.ndarray:
    """q_k: the probability random targeting gives arm k so its expected spend on k equals the policy's."""
    n, k = cost.shape
    shares = np.empty(k)
    for j in range(k):
        mine = assignment.arm_index == j
        total = cost[:, j].sum()
        # A free arm has no budget to match: match the number of units instead.
        shares[j] = cost[mine, j].sum() / total if total > 0 else mine.sum() / n
    # Several arms each matched on spend could ask for more than one arm per unit; scale to a valid mixture.
    return shares / max(1.0, shares.sum())


@dataclass(frozen=True)
class PolicyEvaluation:
    table: pd.DataFrame


def evaluate_policies(
    assignments: dict[str, Assignment],
    net_scores: np.ndarray,
    planned_cost: np.ndarray,
    arms: tuple[str, ...],
    keys,
    n_replicates: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    max_units: int | None = None,
) -> pd.DataFrame:
    """DR value with bootstrap interval of each policy, treat-none, treat-all per arm and random at each
    policy's budget, and each one's difference against the best treat-all arm and against its random twin.

    ``net_scores`` are G_i(k) (from ``targeting.net_value`` fed with DR effect scores); ``planned_cost`` the
    predicted cost per unit and arm the policies budgeted with; ``keys`` one resampling key per unit (its id, or its
    cluster's: ``resampling.resampling_keys``). ``max_units``: the replicates are drawn on a seeded hash sample of
    about that many units and rescaled (``resampling.bounded_bootstrap``; column ``bootstrap_units``); the values
    themselves are always every unit's.
    """
    n, k = net_scores.shape
    columns: dict[str, np.ndarray] = {}
    meta: dict[str, dict] = {}
    columns["treat_none"] = np.zeros(n)
    meta["treat_none"] = {"kind": "treat_none", "n_treated": 0, "cost": 0.0}
    for j, arm in enumerate(arms):
        name = f"treat_all_{arm}" if k > 1 else "treat_all"
        columns[name] = net_scores[:, j]
        meta[name] = {"kind": "treat_all", "n_treated": n, "cost": float(planned_cost[:, j].sum())}
    random_of: dict[str, str] = {}
    for name, assignment in assignments.items():
        columns[name] = at_chosen_arm(net_scores, assignment.arm_index)
        meta[name] = {"kind": "policy", "n_treated": assignment.n_treated, "cost": assignment.spend}
        q = random_arm_shares(assignment, planned_cost)
        twin = f"random_at_{name}"
        columns[twin] = net_scores @ q
        meta[twin] = {"kind": "random", "n_treated": float(q.sum() * n), "cost": float(planned_cost.sum(axis=0) @ q)}
        random_of[name] = twin

    names = list(columns)
    matrix = np.column_stack([columns[c] for c in names])
    treat_all = [c for c in names if meta[c]["kind"] == "treat_all"]
    # The strongest blanket alternative is the bar a policy must clear.
    totals = {c: columns[c].sum() for c in treat_all}
    reference = max(treat_all, key=totals.get)
    ref_idx = names.index(reference)
    twins = [random_of.get(c) for c in names]
    del columns  # the matrix holds them

    def stacked(part: np.ndarray) -> np.ndarray:
        """Every figure per unit of ``part`` (rows of ``matrix``): the values, the paired differences against the
        reference and against each policy's random twin. Made for the rows a bootstrap reads, not held for all."""
        diff_ref = part - part[:, [ref_idx]]
        diff_random = np.column_stack(
            [part[:, i] - part[:, names.index(t)] if t else np.full(part.shape[0], np.nan) for i, t in enumerate(twins)]
        )
        return np.hstack([part, diff_ref, diff_random])

    def statistic_of(rows, once: bool = False):
        part = stacked(matrix[rows])
        m = part.shape[0]

        def statistic(weight):
            if weight is None:
                return part.sum(axis=0)
            total = weight.sum()
            return m * (weight @ part) / total if total > 0 else np.full(part.shape[1], np.nan)

        return statistic

    # Every figure is a total over the units: its spread grows as sqrt(units).
    summary = bounded_bootstrap(
        statistic_of, keys, np.ones(3 * len(names), dtype=bool), n_replicates, seed, alpha, max_units
    )
    p = len(names)
    est, lo, hi, se = summary.estimate, summary.ci_low, summary.ci_high, summary.std_error
    rows = []
    for i, name in enumerate(names):
        has_twin = twins[i] is not None
        rows.append(
            {
                "policy": name,
                "policy_kind": meta[name]["kind"],
                "value": est[i],
                "value_per_unit": est[i] / n,
                "std_error": se[i],
                "ci_low": lo[i],
                "ci_high": hi[i],
                "n_units": n,
                "n_treated": meta[name]["n_treated"],
                "cost": meta[name]["cost"],
                "reference_policy": reference,
                "difference_vs_treat_all": est[p + i],
                "difference_vs_treat_all_ci_low": lo[p + i],
                "difference_vs_treat_all_ci_high": hi[p + i],
                "difference_vs_random": est[2 * p + i] if has_twin else np.nan,
                "difference_vs_random_ci_low": lo[2 * p + i] if has_twin else np.nan,
                "difference_vs_random_ci_high": hi[2 * p + i] if has_twin else np.nan,
                "bootstrap_units": summary.n_units,
            }
        )
    out = pd.DataFrame(rows)
    # treat_none is exactly zero in every replicate; say so rather than print a degenerate interval as if estimated.
    out.loc[out["policy"] == "treat_none", ["std_error", "ci_low", "ci_high"]] = 0.0
    return out


def budget_curve(
    predicted_value: np.ndarray,
    planned_cost: np.ndarray,
    net_scores: np.ndarray,
    keys,
    eligible: np.ndarray | None = None,
    points: int = 50,
    n_replicates: int = 200,
    seed: int = 0,
    alpha: float = 0.05,
    max_units: int | None = None,
) -> pd.DataFrame:
    """Incremental value against spend, from zero to every unit on its costliest arm, with its bootstrap band
    (replicates on at most about ``max_units`` units, as in ``evaluate_policies``).

    The path is the budget policy's (``targeting.hull_upgrades``): at spend s, the LP-optimal allocation of s
    (the one upgrade that straddles s counted pro rata). ``predicted_value`` is what the scores promise along the
    path; ``value`` and its band the doubly-robust estimate of what it delivers.
    """
    n = predicted_value.shape[0]
    up = hull_upgrades(predicted_value, planned_cost, eligible, positive_only=False)
    if up.unit.size == 0:
        return pd.DataFrame(
            {
                "spend": [0.0],
                "n_treated": [0.0],
                "predicted_value": [0.0],
                "value": [0.0],
                "ci_low": [0.0],
                "ci_high": [0.0],
                "bootstrap_units": [None],
            }
        )  # no replicate drawn
    before = np.where(up.from_arm >= 0, net_scores[up.unit, np.maximum(up.from_arm, 0)], 0.0)
    d_score = net_scores[up.unit, up.to_arm] - before
    spend = np.r_[0.0, np.cumsum(up.d_cost)]
    grid = np.linspace(0.0, spend[-1], points) if spend[-1] > 0 else np.zeros(1)
    j = np.searchsorted(spend, grid, side="right") - 1
    m = up.unit.size
    nxt = np.minimum(j, m - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where((j < m) & (up.d_cost[nxt] > 0), (grid - spend[j]) / up.d_cost[nxt], 0.0)

    def along(increments: np.ndarray) -> np.ndarray:
        cumulative = np.r_[0.0, np.cumsum(increments)]
        return cumulative[j] + frac * np.where(j < m, increments[nxt], 0.0)

    n_treated = along((up.from_arm < 0).astype(float))
    predicted = along(up.d_value)
    partial = j < m

    def statistic_of(rows, once: bool = False):
        """The value along the whole population's path counting only ``rows``' units: ``along`` over their upgrades
        alone (the others add exact zeros), so a replicate on a sample costs the sample's upgrades, not all."""
        members = np.arange(n)[rows]
        size = members.size
        position = np.full(n, -1)  # of each unit in ``rows`` (the order of a replicate's weights), -1 if not there
        position[members] = np.arange(size)
        own = np.flatnonzero(position[up.unit] >= 0)
        own_position, own_score = position[up.unit[own]], d_score[own]
        complete = np.searchsorted(own, j)  # upgrades of these units finished at each grid point
        straddling = partial & (position[up.unit[nxt]] >= 0)
        straddling_position = np.maximum(position[up.unit[nxt]], 0)

        def statistic(weight):
            unit_weight = np.ones(size) if weight is None else weight
            cumulative = np.r_[0.0, np.cumsum(own_score if weight is None else own_score * weight[own_position])]
            last = np.where(
                straddling, d_score[nxt] * (1.0 if weight is None else unit_weight[straddling_position]), 0.0
            )
            value = cumulative[complete] + frac * last
            if weight is None:
                return value
            total = unit_weight.sum()
            return size * value / total if total > 0 else np.full(grid.size, np.nan)

        return statistic

    summary = bounded_bootstrap(
        statistic_of, keys, np.ones(grid.size, dtype=bool), n_replicates, seed, alpha, max_units
    )
    return pd.DataFrame(
        {
            "spend": grid,
            "n_treated": n_treated,
            "predicted_value": predicted,
            "value": summary.estimate,
            "ci_low": summary.ci_low,
            "ci_high": summary.ci_high,
            "bootstrap_units": summary.n_units,
        }
    )
