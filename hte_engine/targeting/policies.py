"""Targeting: who to treat, with which arm, for what expected net value.

Economics (reference 003, "From uplift to decisions"): for unit x and treatment arm k,

    V_k(x) = tau_k(x) * benefit(x) - cost_k(x) - risk_penalty * tau_k^risk(x)

with tau_k the effect on the experiment's target metric, ``benefit`` the value of one unit of that metric (a
constant per experiment, or a per-unit column such as each customer's own margin), ``cost_k`` a constant per
treated unit plus, optionally, a value per unit of a second metric's uplift (coupon face value x incremental
redemptions), and ``tau_k^risk`` the uplift on a guardrail metric (churn, complaints). Doing nothing (the control
arm) is worth 0 and costs 0 by definition: every value here is incremental against treating nobody.

Policies, all of which only ever choose an arm whose net value is positive:

- ``threshold``: every unit gets its best arm when that arm's V > 0 (the best arm per unit including "do nothing").
- ``capacity``: at most N units treated, those with the largest best-arm V. Each treated unit uses one slot
  whatever its arm, so ranking by the best arm's value is exactly optimal.
- ``top_k``: capacity with N = floor(k * n).
- ``budget``: maximise total V subject to total cost <= budget. With several arms this is the multiple-choice
  knapsack; we solve its LP relaxation exactly by the greedy of Sinha & Zoltners (1979) -- the algorithm behind
  grf's ``maq`` -- : for each unit, the upper concave hull of its (cost, value) points starting at "do nothing"
  gives upgrades of decreasing value per unit of cost; all units' upgrades are taken in order of that ratio
  until the budget binds. With one arm this is Dantzig's greedy by value / cost, the optimum of the fractional
  knapsack. The LP optimum treats at most one unit fractionally; we never treat fractionally: an upgrade that
  no longer fits is skipped (with every later upgrade of the same unit) and cheaper upgrades of other units
  that still fit are taken. The budget is never exceeded, and the total value is within one upgrade's value of
  the LP bound, itself an upper bound on the best integer policy.

Every policy can be combined with a risk constraint (an arm is eligible only when its guardrail uplift is at or
below a limit), an uncertainty screen (an arm counts as positive only when V - z * se > 0, given per-unit
standard errors), and an exploration share: a seeded, order-free hash of the unit id picks that share of units,
each given an arm uniformly at random (control included), so the effects stay measurable after rollout
(reference 003, step 8). Exploration spend and slots come out of the budget and the capacity first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

POLICY_KINDS = ("threshold", "top_k", "capacity", "budget")

# Reasons a unit is not treated, in the words the unit table shows.
REASON_NEGATIVE = "negative value"
REASON_RISK = "risk"
REASON_UNCERTAIN = "too uncertain"
REASON_BUDGET = "over budget"
REASON_CAPACITY = "over capacity"
REASON_TOP_K = "outside top k"
REASON_EXPLORATION = "random exploration"


def _fail(experiment_id: str, message: str) -> None:
    raise ValueError(f"dbt_hte targeting: experiment '{experiment_id}': {message}")


@dataclass(frozen=True)
class Economics:
    """What a unit of outcome is worth and what treating costs, for one experiment.

    ``cost_per_treated`` maps every treatment arm to its constant cost per treated unit. ``benefit_column`` (a
    per-unit feature), when set, replaces the constant ``benefit_per_unit``. ``cost_metric`` /
    ``cost_per_metric_unit`` add a per-unit cost proportional to that metric's uplift; ``risk_metric`` /
    ``risk_penalty_per_unit`` subtract a penalty proportional to the guardrail's uplift, and ``risk_limit`` makes
    an arm ineligible for a unit whose guardrail uplift exceeds it.
    """

    experiment_id: str
    control_arm: str
    target_metric: str
    cost_per_treated: dict[str, float]
    benefit_per_unit: float | None = None
    benefit_column: str | None = None
    cost_metric: str | None = None
    cost_per_metric_unit: float = 0.0
    risk_metric: str | None = None
    risk_penalty_per_unit: float = 0.0
    risk_limit: float | None = None

    def __post_init__(self):
        eid = self.experiment_id
        if not self.target_metric:
            _fail(
                eid,
                "column 'target_metric' is empty in hte_experiments; name the metric whose uplift is "
                "worth money (e.g. purchase).",
            )
        if not self.cost_per_treated:
            _fail(eid, "no treatment arm: hte_experiments needs at least one arm with is_control = false.")
        if self.benefit_column is None:
            if self.benefit_per_unit is None or not math.isfinite(self.benefit_per_unit):
                _fail(
                    eid,
                    "column 'benefit_per_unit' is missing in hte_experiments and no per-unit benefit column "
                    "is set; give the value of one unit of the target metric, or set var "
                    "hte_targeting_benefit_column.",
                )
        for arm, cost in self.cost_per_treated.items():
            if cost is None or not math.isfinite(cost):
                _fail(
                    eid,
                    f"column 'cost_per_treated' is missing for arm '{arm}' in hte_experiments; set it "
                    "(0 when treating is free).",
                )
            if cost < 0:
                _fail(
                    eid,
                    f"column 'cost_per_treated' is {cost} for arm '{arm}'; a cost cannot be negative "
                    "(put savings into benefit_per_unit instead).",
                )
        if self.cost_metric is not None and not math.isfinite(self.cost_per_metric_unit):
            _fail(eid, "var hte_targeting_cost_per_metric_unit must be a finite number when a cost metric is set.")
        if self.risk_metric is None and (self.risk_penalty_per_unit or self.risk_limit is not None):
            _fail(
                eid,
                "a risk penalty or risk limit is set but no risk metric; set var hte_targeting_risk_metric "
                "to the guardrail metric (e.g. churn) or remove the penalty and limit.",
            )
        if self.risk_metric is not None and self.risk_metric == self.target_metric:
            _fail(
                eid,
                f"the risk metric '{self.risk_metric}' is the target metric; a guardrail must be a different metric.",
            )

    @property
    def arms(self) -> tuple[str, ...]:
        """Treatment arms in a fixed (sorted) order: the columns of every (n, K) array in this module."""
        return tuple(sorted(self.cost_per_treated))

    @property
    def metrics(self) -> tuple[str, ...]:
        """Metrics whose effects the net value needs."""
        return tuple(m for m in (self.target_metric, self.cost_metric, self.risk_metric) if m is not None)

    @classmethod
    def from_experiments(cls, experiments: pd.DataFrame, experiment_id: str, **settings) -> Economics:
        """Read one experiment's arms and economics from ``stg_hte_experiments`` rows; ``settings`` are the
        ``hte_targeting_*`` options (benefit_column, cost_metric, risk_metric, ...)."""
        rows = experiments[experiments["experiment_id"] == experiment_id]
        if rows.empty:
            _fail(experiment_id, "is not in hte_experiments; declare its arms and economics there.")
        is_control = rows["is_control"].astype(bool).to_numpy()
        if is_control.sum() != 1:
            _fail(
                experiment_id,
                f"has {int(is_control.sum())} control arms in hte_experiments; exactly one arm "
                "must have is_control = true.",
            )
        treatment = rows[~is_control]
        targets = rows["target_metric"].dropna().astype(str).unique().tolist() if "target_metric" in rows else []
        if len(targets) > 1:
            _fail(
                experiment_id,
                f"column 'target_metric' differs between arms ({targets}); one experiment has one target metric.",
            )
        benefits = rows["benefit_per_unit"].dropna().astype(float).unique() if "benefit_per_unit" in rows else []
        if len(benefits) > 1:
            _fail(
                experiment_id,
                f"column 'benefit_per_unit' differs between arms ({list(benefits)}); the value of "
                "one unit of the target metric does not depend on the arm.",
            )
        costs = {}
        for arm, cost in zip(
            treatment["arm"].astype(str),
            treatment.get("cost_per_treated", pd.Series([None] * len(treatment), index=treatment.index)),
        ):
            costs[arm] = float(cost) if cost is not None and not pd.isna(cost) else float("nan")
        return cls(
            experiment_id=experiment_id,
            control_arm=str(rows.loc[is_control, "arm"].iloc[0]),
            target_metric=targets[0] if targets else "",
            benefit_per_unit=float(benefits[0]) if len(benefits) else None,
            cost_per_treated=costs,
            **settings,
        )


@dataclass(frozen=True)
class NetValue:
    """Per unit (rows) and treatment arm (columns, ``Economics.arms`` order)."""

    value: np.ndarray
    cost: np.ndarray
    risk_uplift: np.ndarray | None


def unit_benefit(economics: Economics, features: pd.DataFrame | None, n: int) -> np.ndarray:
    """The value of one unit of the target metric for each unit."""
    if economics.benefit_column is None:
        return np.full(n, float(economics.benefit_per_unit))
    column = economics.benefit_column
    if features is None or column not in features.columns:
        _fail(
            economics.experiment_id,
            f"the benefit column '{column}' (var hte_targeting_benefit_column) is not "
            "among the unit features; add it to hte_unit_features or unset the var.",
        )
    benefit = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=float)
    if benefit.shape[0] != n or not np.all(np.isfinite(benefit)):
        bad = int((~np.isfinite(benefit)).sum())
        _fail(
            economics.experiment_id,
            f"column '{column}' (the per-unit benefit) has {bad} missing or "
            "non-numeric values; every targeted unit needs one.",
        )
    return benefit


def net_value(economics: Economics, effects: dict[str, np.ndarray], benefit: np.ndarray) -> NetValue:
    """V_k(x) for every unit and arm from per-metric effects, each an (n, K) array in ``economics.arms`` order.

    The effects may be predicted CATEs (to decide) or doubly-robust scores (to evaluate): the formula is linear
    in them, so a DR score in gives an unbiased net-value score out.
    """
    eid = economics.experiment_id
    for metric in economics.metrics:
        if metric not in effects:
            _fail(
                eid,
                f"no effect estimates for metric '{metric}', which the economics use; make sure it is in "
                "var hte_metrics and has outcome rows.",
            )
    tau = np.asarray(effects[economics.target_metric], dtype=float)
    n, k = tau.shape
    if k != len(economics.arms):
        _fail(
            eid,
            f"effects have {k} arm columns but the experiment has {len(economics.arms)} treatment arms "
            f"{list(economics.arms)}.",
        )
    cost = np.tile(np.array([economics.cost_per_treated[a] for a in economics.arms]), (n, 1))
    if economics.cost_metric is not None:
        cost = cost + economics.cost_per_metric_unit * np.asarray(effects[economics.cost_metric], dtype=float)
    risk_uplift = None
    value = tau * np.asarray(benefit, dtype=float)[:, None] - cost
    if economics.risk_metric is not None:
        risk_uplift = np.asarray(effects[economics.risk_metric], dtype=float)
        value = value - economics.risk_penalty_per_unit * risk_uplift
    return NetValue(value=value, cost=cost, risk_uplift=risk_uplift)


@dataclass(frozen=True)
class Policy:
    """One targeting policy and its constraints (var names in the README: ``hte_targeting_*``)."""

    kind: str = "threshold"
    budget: float | None = None
    capacity: int | None = None
    top_k: float | None = None
    exploration_share: float = 0.0
    seed: int = 0
    # z of the uncertainty screen: an arm counts as positive only when V - z * se > 0 (needs per-unit se).
    uncertainty_z: float | None = None

    def __post_init__(self):
        if self.kind not in POLICY_KINDS:
            raise ValueError(
                f"dbt_hte targeting: unknown policy '{self.kind}' (var hte_targeting_policies); "
                f"choose from {list(POLICY_KINDS)}."
            )
        if self.kind == "budget":
            if self.budget is None or not math.isfinite(self.budget) or self.budget < 0:
                raise ValueError(
                    f"dbt_hte targeting: the budget policy needs a non-negative budget "
                    f"(var hte_targeting_budget); got {self.budget}."
                )
        if self.kind == "capacity":
            if self.capacity is None or int(self.capacity) != self.capacity or self.capacity < 0:
                raise ValueError(
                    f"dbt_hte targeting: the capacity policy needs a whole number of units >= 0 "
                    f"(var hte_targeting_capacity); got {self.capacity}."
                )
        if self.kind == "top_k":
            if self.top_k is None or not 0 <= self.top_k <= 1:
                raise ValueError(
                    f"dbt_hte targeting: the top_k policy needs a share between 0 and 1 "
                    f"(var hte_targeting_top_k); got {self.top_k}."
                )
        if not 0 <= self.exploration_share < 1:
            raise ValueError(
                f"dbt_hte targeting: var hte_targeting_exploration_share must be in [0, 1); got "
                f"{self.exploration_share}."
            )
        if self.uncertainty_z is not None and not self.uncertainty_z >= 0:
            raise ValueError(f"dbt_hte targeting: the uncertainty z must be >= 0; got {self.uncertainty_z}.")

    @property
    def name(self) -> str:
        if self.kind == "budget":
            return f"budget_{self.budget:g}"
        if self.kind == "capacity":
            return f"capacity_{int(self.capacity)}"
        if self.kind == "top_k":
            return f"top_{self.top_k:g}"
        return "threshold"


def at_chosen_arm(per_arm: np.ndarray, arm_index: np.ndarray) -> np.ndarray:
    """Each unit's entry of a units × treatment-arms matrix (value, cost, effect) at its chosen arm; 0 where it
    gets the control (arm index -1): every entry is relative to doing nothing, which is worth and costs 0."""
    return np.where(arm_index >= 0, per_arm[np.arange(len(arm_index)), np.maximum(arm_index, 0)], 0.0)


@dataclass
class Assignment:
    """Per unit: chosen arm index into the treatment arms (-1 = control, do nothing), decision and reason."""

    arm_index: np.ndarray
    decision: np.ndarray
    reason: np.ndarray
    is_exploration: np.ndarray
    expected_net_value: np.ndarray
    cost: np.ndarray

    @property
    def n_treated(self) -> int:
        return int((self.arm_index >= 0).sum())

    @property
    def spend(self) -> float:
        return float(self.cost.sum())

    def table(self, unit_ids, arms: tuple[str, ...], control_arm: str) -> pd.DataFrame:
        names = np.asarray(arms + (control_arm,), dtype=object)
        return pd.DataFrame(
            {
                "unit_id": np.asarray(unit_ids, dtype=object),
                "chosen_arm": names[self.arm_index],
                "expected_net_value": self.expected_net_value,
                "expected_cost": self.cost,
                "decision": self.decision,
                "reason": self.reason,
                "is_exploration": self.is_exploration,
            }
        )


def unit_uniforms(unit_ids, seed: int, stream: int) -> np.ndarray:
    """One uniform draw per unit from a hash of (seed, stream, unit id): a unit's draw does not depend on row
    order, on which other units are scored, or on how the scoring is batched."""
    keys = np.array([f"{int(seed)}:{int(stream)}:{u}" for u in pd.Series(unit_ids).astype(str)], dtype=object)
    hashes = pd.util.hash_array(keys, categorize=False)
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass(frozen=True)
class Upgrades:
    """The budget path: every unit's hull upgrades, best value per unit of cost first.

    Upgrade j moves unit ``unit[j]`` from arm ``from_arm[j]`` to ``to_arm[j]`` (-1 = control) at extra cost
    ``d_cost[j]`` for extra value ``d_value[j]``.
    """

    unit: np.ndarray
    from_arm: np.ndarray
    to_arm: np.ndarray
    d_cost: np.ndarray
    d_value: np.ndarray

    @property
    def spend(self) -> np.ndarray:
        return np.cumsum(self.d_cost)


def hull_upgrades(
    value: np.ndarray, cost: np.ndarray, eligible: np.ndarray | None = None, positive_only: bool = True
) -> Upgrades:
    """Upper concave hull of each unit's (cost, value) points from (0, 0), as upgrades sorted by efficiency.

    Gift-wrapping, vectorised over units: from the current point, the next hull vertex is the eligible point
    further right with the steepest slope (ties: the farthest). K small arms means at most K passes. Points at
    the current cost with more value are taken first as infinitely efficient upgrades. With ``positive_only``
    the path stops where value stops increasing (what a policy takes); otherwise it runs on to each unit's most
    costly arm (the budget curve to "treat everyone").
    """
    value = np.asarray(value, dtype=float)
    cost = np.asarray(cost, dtype=float)
    n, k = value.shape
    ok = np.ones((n, k), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if positive_only:
        ok = ok & (value > 0)
    cur_c, cur_v = np.zeros(n), np.zeros(n)
    cur_arm = np.full(n, -1)
    rows = np.arange(n)
    parts: list[tuple[np.ndarray, ...]] = []
    for _ in range(2 * k + 1):
        # Vertical moves: same cost, more value (e.g. a free arm that helps).
        same = ok & (cost == cur_c[:, None]) & (value > cur_v[:, None])
        right = ok & (cost > cur_c[:, None])
        if not same.any() and not right.any():
            break
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(right, (value - cur_v[:, None]) / (cost - cur_c[:, None]), -np.inf)
        slope = np.where(same, np.inf, slope)
        if positive_only:
            slope = np.where(slope > 0, slope, -np.inf)
        best_slope = slope.max(axis=1)
        moving = best_slope > -np.inf
        if not moving.any():
            break
        at_best = slope == best_slope[:, None]
        # A vertical move goes to the most valuable point at this cost; otherwise, among the steepest, to the
        # farthest: it is the hull vertex, the nearer ones lie on its edge.
        nxt = np.where(
            np.isinf(best_slope) & (best_slope > 0),
            np.where(at_best, value, -np.inf).argmax(axis=1),
            np.where(at_best, cost, -np.inf).argmax(axis=1),
        )
        u = rows[moving]
        a = nxt[moving]
        parts.append((u, cur_arm[u].copy(), a, cost[u, a] - cur_c[u], value[u, a] - cur_v[u], best_slope[moving]))
        cur_c[u], cur_v[u], cur_arm[u] = cost[u, a], value[u, a], a
    if not parts:
        empty = np.array([], dtype=np.int64)
        return Upgrades(empty, empty, empty, np.array([]), np.array([]))
    unit, from_arm, to_arm, d_cost, d_value, eff = (np.concatenate(p) for p in zip(*parts))
    step = np.concatenate([np.full(len(p[0]), i) for i, p in enumerate(parts)])
    # A unit's own upgrades have decreasing efficiency on a concave hull, so sorting by efficiency keeps them in
    # order; the step breaks exact ties in the unit's favour of sequence.
    order = np.lexsort((step, unit, -eff))
    return Upgrades(unit[order], from_arm[order], to_arm[order], d_cost[order], d_value[order])


def _budget_choice(value, cost, eligible, budget: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Greedy over hull upgrades; returns each unit's arm and whether an affordable upgrade was skipped."""
    up = hull_upgrades(value, cost, eligible, positive_only=True)
    arm = np.full(n, -1)
    blocked = np.zeros(n, dtype=bool)
    remaining = float(budget)
    # The skip-and-continue pass is sequential by nature; it touches each upgrade once.
    for u, frm, to, dc in zip(up.unit.tolist(), up.from_arm.tolist(), up.to_arm.tolist(), up.d_cost.tolist()):
        if blocked[u] or arm[u] != frm:
            continue
        if dc <= remaining + 1e-12 * max(1.0, abs(budget)):
            arm[u] = to
            remaining -= dc
        else:
            blocked[u] = True
    return arm, blocked


def assign(
    net: NetValue,
    policy: Policy,
    unit_ids,
    economics: Economics,
    value_se: np.ndarray | None = None,
) -> Assignment:
    """Apply ``policy`` to every unit. Rows of ``net`` are units in the order of ``unit_ids``."""
    value, cost = net.value, net.cost
    n, k = value.shape
    eid = economics.experiment_id
    if policy.kind == "budget" and np.any(cost < 0):
        _fail(
            eid,
            "some units have a negative expected cost (the cost metric's predicted uplift is negative); "
            "the budget policy needs costs >= 0: check var hte_targeting_cost_metric or use a constant cost.",
        )
    if not np.all(np.isfinite(value)):
        _fail(
            eid,
            f"{int((~np.isfinite(value)).sum())} unit net values are missing or infinite; every scored "
            "unit needs an effect estimate for every metric of the economics.",
        )

    risk_ok = np.ones((n, k), dtype=bool)
    if economics.risk_limit is not None:
        risk_ok = net.risk_uplift <= economics.risk_limit
    sure = np.ones((n, k), dtype=bool)
    if policy.uncertainty_z is not None:
        if value_se is None:
            _fail(
                eid,
                "the uncertainty screen (var hte_targeting_uncertainty_z) needs per-unit standard errors "
                "of the net value, and none were given.",
            )
        sure = value - policy.uncertainty_z * np.asarray(value_se, dtype=float).reshape(n, -1) > 0
    eligible = risk_ok & sure

    arm = np.full(n, -1)
    reason = np.full(n, None, dtype=object)
    positive = value > 0
    reason[~positive.any(axis=1)] = REASON_NEGATIVE
    reason[positive.any(axis=1) & ~(positive & risk_ok).any(axis=1)] = REASON_RISK
    reason[(positive & risk_ok).any(axis=1) & ~(positive & eligible).any(axis=1)] = REASON_UNCERTAIN

    explore = np.zeros(n, dtype=bool)
    if policy.exploration_share > 0:
        explore = unit_uniforms(unit_ids, policy.seed, 0) < policy.exploration_share
        pick = np.minimum(np.floor(unit_uniforms(unit_ids, policy.seed, 1) * (k + 1)).astype(int), k)
        arm[explore] = np.where(pick[explore] == k, -1, pick[explore])
    explored_cost = float(at_chosen_arm(cost, arm).sum())
    explored_treated = int((arm >= 0).sum())

    candidates = ~explore & (positive & eligible).any(axis=1)
    best_value = np.where(positive & eligible, value, -np.inf).max(axis=1)
    best_arm = np.where(positive & eligible, value, -np.inf).argmax(axis=1)

    if policy.kind == "threshold":
        arm[candidates] = best_arm[candidates]
    elif policy.kind in ("capacity", "top_k"):
        slots = int(policy.capacity) if policy.kind == "capacity" else int(math.floor(policy.top_k * n + 1e-9))
        slots -= explored_treated
        if slots < 0:
            _fail(
                eid,
                f"the exploration share {policy.exploration_share} treats {explored_treated} units, more than "
                f"the {slots + explored_treated} allowed; lower var hte_targeting_exploration_share.",
            )
        idx = np.flatnonzero(candidates)
        # Stable order on (-value, unit id) so ties are broken the same way whatever the row order.
        ids = np.asarray(pd.Series(unit_ids).astype(str).to_numpy(dtype=object))[idx]
        order = np.lexsort((ids, -best_value[idx]))
        take = idx[order[:slots]]
        arm[take] = best_arm[take]
        left_out = idx[order[slots:]]
        reason[left_out] = REASON_CAPACITY if policy.kind == "capacity" else REASON_TOP_K
    else:
        remaining = float(policy.budget) - explored_cost
        if remaining < -1e-9:
            _fail(
                eid,
                f"the exploration share {policy.exploration_share} spends {explored_cost:.6g}, more than the "
                f"budget {policy.budget:g}; lower var hte_targeting_exploration_share or raise the budget.",
            )
        pool = np.where(candidates[:, None], eligible, False)
        chosen, blocked = _budget_choice(value, cost, pool, max(remaining, 0.0), n)
        arm[candidates] = chosen[candidates]
        reason[candidates & (chosen < 0)] = REASON_BUDGET

    treated = arm >= 0
    decision = np.where(explore, "explore", np.where(treated, "treat", "hold")).astype(object)
    reason[treated] = None
    reason[explore] = REASON_EXPLORATION
    return Assignment(
        arm_index=arm,
        decision=decision,
        reason=reason,
        is_exploration=explore,
        expected_net_value=at_chosen_arm(value, arm),
        cost=at_chosen_arm(cost, arm),
    )
