"""From the package's relations to the three targeting tables: ``hte_targeting_units``, ``hte_targeting_segments``
and ``hte_policy_value`` (the budget curve included, as rows of policy ``budget_curve``).

The dbt Python models only read relations and call these functions; everything here runs on pandas frames, so it
is tested without dbt. Settings come from ``config: meta:`` (vars ``hte_targeting_*``, keys without ``hte_``).

Where the numbers come from (columns ``score_source`` and ``dr_source``): the effects are the chosen learner's
out-of-fold scores in ``hte_cate_scores``, and for a two-arm experiment the doubly-robust scores are the ones it
stores. ``hte_cate_scores`` compares each treatment arm with control on those two arms' units only, so in a
multi-arm experiment a unit has no score for the arms it was not compared on: an arm whose chosen learner is
``constant`` still covers every unit (its effect is the same for all), otherwise the experiment's effects and its
multi-arm doubly-robust scores come from outcome models cross-fitted here (``policy_value.cross_fitted_outcomes``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hte_engine import io
from hte_engine.io import select_columns, to_pandas
from hte_engine.progress import progress
from hte_engine.resampling import bootstrap_units_setting, resampling_keys
from hte_engine.settings import binary_metric_names, meta_values, run_date_setting
from hte_engine.targeting.policies import Economics, Policy, assign, net_value, unit_benefit
from hte_engine.targeting.policy_value import (
    budget_curve,
    cross_fitted_outcomes,
    doubly_robust_arm_scores,
    evaluate_policies,
)
from hte_engine.targeting.segments import SEGMENT_TABLE_SCHEMA, segment_decisions, segment_value_lifts
from hte_engine.uplift.features import prepare_features

ECONOMICS_KEYS = (
    "benefit_column",
    "cost_metric",
    "cost_per_metric_unit",
    "risk_metric",
    "risk_penalty_per_unit",
    "risk_limit",
)


def _per_experiment(value, experiment_id: str):
    """A setting given once for all experiments, or as a mapping experiment_id -> value."""
    if isinstance(value, dict):
        return value.get(experiment_id)
    return value


@dataclass(frozen=True)
class TargetingSettings:
    policy: str = "threshold"
    budget: object = None
    capacity: object = None
    top_k: object = None
    exploration_share: float = 0.0
    seed: int = 20240607
    bootstrap_replicates: int = 200
    # Replicates on a seeded hash sample of about this many units, rescaled (``resampling.bounded_bootstrap``);
    # None (var 0): every unit.
    bootstrap_max_units: int | None = 50_000
    folds: int = 5
    alpha: float = 0.05
    interval_adjustment: str = "bonferroni"
    min_segment_size: int = 100
    curve_points: int = 50
    learner: str = "chosen"
    economics: dict = field(default_factory=dict)
    memory_budget: int = field(default_factory=io.memory_budget_bytes)
    # what the models read beside the targeting vars: the unit features the outcome models use, the segment
    # columns of the segment decisions and the history, the binary metrics (a multi-arm experiment's outcome
    # models are classifiers there), and the run date of the history (None: today)
    feature_columns: tuple[str, ...] = ()
    segment_columns: tuple[str, ...] = ()
    binary_metrics: frozenset[str] = frozenset()
    run_date: str | None = None

    @classmethod
    def from_meta(cls, meta: dict) -> TargetingSettings:
        meta = meta_values(meta)
        known = {
            "policy": "targeting_policy",
            "budget": "targeting_budget",
            "capacity": "targeting_capacity",
            "top_k": "targeting_top_k",
            "exploration_share": "targeting_exploration_share",
            "seed": "targeting_seed",
            "bootstrap_replicates": "targeting_bootstrap_replicates",
            "bootstrap_max_units": "targeting_bootstrap_max_units",
            "folds": "targeting_folds",
            "alpha": "alpha",
            "interval_adjustment": "targeting_interval_adjustment",
            "min_segment_size": "min_segment_size",
            "curve_points": "targeting_curve_points",
            "learner": "targeting_learner",
            "economics": "targeting_economics",
        }
        values = {name: meta[key] for name, key in known.items() if meta.get(key) not in (None, "", "None")}
        values["memory_budget"] = io.memory_budget_bytes(meta.get("python_memory_budget_gb"))
        values["feature_columns"] = tuple(str(c) for c in meta.get("feature_columns") or ())
        values["segment_columns"] = tuple(str(c) for c in meta.get("segment_columns") or ())
        values["binary_metrics"] = frozenset(binary_metric_names(meta))
        values["run_date"] = run_date_setting(meta.get("run_date"), "targeting")
        for name in ("exploration_share", "alpha"):
            if name in values:
                values[name] = float(values[name])
        for name in ("seed", "bootstrap_replicates", "folds", "min_segment_size", "curve_points"):
            if name in values:
                values[name] = int(values[name])
        if "bootstrap_max_units" in values:
            values["bootstrap_max_units"] = bootstrap_units_setting(
                values["bootstrap_max_units"], "hte_targeting_bootstrap_max_units"
            )
        return cls(**values)

    def economics_for(self, experiments: pd.DataFrame, experiment_id: str) -> Economics:
        extras = dict((self.economics or {}).get(experiment_id) or {})
        unknown = sorted(set(extras) - set(ECONOMICS_KEYS))
        if unknown:
            raise ValueError(
                f"dbt_hte targeting: experiment '{experiment_id}': var hte_targeting_economics has "
                f"unknown keys {unknown}; use {list(ECONOMICS_KEYS)}."
            )
        for key in ("cost_per_metric_unit", "risk_penalty_per_unit", "risk_limit"):
            if extras.get(key) is not None:
                extras[key] = float(extras[key])
        return Economics.from_experiments(experiments, experiment_id, **extras)

    def policies_for(self, experiment_id: str) -> dict[str, Policy]:
        """Every configured policy of an experiment; the deployed one (var hte_targeting_policy) is among them."""
        common = {"exploration_share": self.exploration_share, "seed": self.seed}
        policies = {"threshold": Policy("threshold", **common)}
        budget = _per_experiment(self.budget, experiment_id)
        capacity = _per_experiment(self.capacity, experiment_id)
        top_k = _per_experiment(self.top_k, experiment_id)
        if budget is not None:
            policies["budget"] = Policy("budget", budget=float(budget), **common)
        if capacity is not None:
            policies["capacity"] = Policy("capacity", capacity=capacity, **common)
        if top_k is not None:
            policies["top_k"] = Policy("top_k", top_k=float(top_k), **common)
        if self.policy not in policies:
            raise ValueError(
                f"dbt_hte targeting: experiment '{experiment_id}': var hte_targeting_policy is "
                f"'{self.policy}' but that policy is not configured; set its var "
                f"(hte_targeting_{self.policy}) or choose one of {sorted(policies)}."
            )
        return policies


def chosen_scores(cate_scores: pd.DataFrame, evaluation: pd.DataFrame | None, learner: str) -> pd.DataFrame:
    """The out-of-fold CATE rows targeting uses: the learner marked ``is_chosen`` per experiment x metric x arm,
    or the learner named by var hte_targeting_learner."""
    pairs = chosen_learners(evaluation, learner, cate_scores[["experiment_id", "metric", "arm", "learner"]])
    return cate_scores.merge(pairs, on=["experiment_id", "metric", "arm", "learner"], how="inner")


def chosen_learners(evaluation, learner: str, scored: pd.DataFrame) -> pd.DataFrame:
    """experiment_id, metric, arm, learner: the learner whose scores targeting uses for each comparison.
    ``scored``: the (experiment_id, metric, arm, learner) combinations hte_cate_scores holds."""
    if learner != "chosen":
        rows = scored[scored["learner"] == learner]
        if rows.empty:
            raise ValueError(
                f"dbt_hte targeting: var hte_targeting_learner is '{learner}', which has no rows in "
                f"hte_cate_scores; use 'chosen' or one of {sorted(scored['learner'].unique())}."
            )
        return rows[["experiment_id", "metric", "arm", "learner"]].drop_duplicates()
    if evaluation is None:
        raise ValueError(
            "dbt_hte targeting: var hte_targeting_learner is 'chosen' but hte_learner_evaluation was not given."
        )
    # A comparison that could not be scored (a tiny arm, a constant outcome) has a status row whose is_chosen is
    # null: it has no chosen learner, so it is left out, not read as true or false.
    picked = evaluation[evaluation["is_chosen"].astype("boolean").fillna(False).astype(bool)]
    return picked[["experiment_id", "metric", "arm", "learner"]].drop_duplicates()


def _stored_matrix(
    scores: pd.DataFrame, unit_ids: np.ndarray, economics: Economics, metric: str, column: str
) -> np.ndarray:
    """(n, K) matrix of one hte_cate_scores column for the experiment's units and treatment arms; NaN where the
    table has no row (a pairwise comparison only scores the units of its own two arms)."""
    eid = economics.experiment_id
    rows = scores[(scores["experiment_id"] == eid) & (scores["metric"] == metric)]
    if column not in rows:
        return np.full((len(unit_ids), len(economics.arms)), np.nan)
    missing_arms = [a for a in economics.arms if a not in set(rows["arm"].astype(str).unique())]
    if missing_arms:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': hte_cate_scores has no scores for metric "
            f"'{metric}' and arms {missing_arms}; the economics need them (check var hte_metrics and "
            "the status of those comparisons in hte_learner_evaluation)."
        )
    rows = rows[rows[column].notna()]
    matrix = np.full((len(unit_ids), len(economics.arms)), np.nan)
    # Placed by position, not pivoted (a pivot groups millions of rows); of repeated rows the first is kept.
    unit = pd.Index(unit_ids).get_indexer(rows["unit_id"].astype(str))
    arm = pd.Index(list(economics.arms)).get_indexer(rows["arm"].astype(str))
    known = np.flatnonzero((unit >= 0) & (arm >= 0))
    cell, first = np.unique(unit[known] * len(economics.arms) + arm[known], return_index=True)
    matrix.flat[cell] = rows[column].to_numpy(dtype=float)[known[first]]
    return matrix


def _fill_constant_arms(matrix: np.ndarray, scores: pd.DataFrame, economics: Economics, metric: str) -> np.ndarray:
    """Give the units of other arms the score of an arm whose learner is ``constant``: its effect is the same
    for every unit, and none of the comparison's models saw those units, so the value is still out of fold. (When
    the uplift evaluation finds no heterogeneity worth a model, the policy is then the best blanket arm per unit,
    as it should be, rather than the ranking of some other model.)"""
    rows = scores[(scores["experiment_id"] == economics.experiment_id) & (scores["metric"] == metric)]
    out = matrix.copy()
    for j, arm in enumerate(economics.arms):
        learners = set(rows.loc[rows["arm"] == arm, "learner"].astype(str).unique())
        if learners == {"constant"} and np.isnan(out[:, j]).any():
            out[np.isnan(out[:, j]), j] = np.nanmean(out[:, j])
    return out


def _constant_arms(scores: pd.DataFrame, economics: Economics, metric: str) -> np.ndarray:
    """For each treatment arm, whether its chosen learner is the constant average effect."""
    rows = scores[(scores["experiment_id"] == economics.experiment_id) & (scores["metric"] == metric)]
    return np.array(
        [set(rows.loc[rows["arm"] == arm, "learner"].astype(str).unique()) == {"constant"} for arm in economics.arms],
        dtype=bool,
    )


def _learner_label(scores: pd.DataFrame, economics: Economics) -> str:
    learners = sorted(scores.loc[scores["experiment_id"] == economics.experiment_id, "learner"].astype(str).unique())
    return "hte_cate_scores: " + ", ".join(learners)


@dataclass
class ExperimentTargeting:
    units: pd.DataFrame
    policy_value: pd.DataFrame


def experiment_targeting(
    economics: Economics,
    units: pd.DataFrame,
    features: pd.DataFrame | Callable[[], pd.DataFrame],
    scores: pd.DataFrame,
    settings: TargetingSettings,
    feature_columns: list[str],
    binary_metrics: set[str],
    fit=None,
    evaluate: bool = True,
) -> ExperimentTargeting:
    """Decide every unit of one experiment under the deployed policy and, with ``evaluate``, value every policy
    out of fold (the costly part: cross-fitted outcome models per metric and arm).

    ``units``: int_hte_units rows of the experiment (unit_id, arm, metric, y) plus ``propensity`` (probability of
    the arm received); ``features``: one row per unit_id, or a function of the columns wanted that reads them, called
    only when they are needed (outcome models to fit, or a per-unit benefit column, then that column alone): a
    two-arm experiment reuses hte_cate_scores' scores and reads no features; ``scores``: chosen out-of-fold CATE rows.
    """
    eid = economics.experiment_id
    target = units[units["metric"] == economics.target_metric]
    if target.empty:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': the target metric '{economics.target_metric}' "
            "has no rows in int_hte_units; add it to var hte_metrics or fix target_metric."
        )
    columns = ["unit_id", "arm", "propensity"] + (["cluster_id"] if "cluster_id" in target else [])
    base = target[columns].drop_duplicates("unit_id").sort_values("unit_id")
    unit_ids = base["unit_id"].astype(str).to_numpy(dtype=object)
    # Folds and bootstrap replicates keep clusters whole: units of a cluster share their noise.
    clustered = "cluster_id" in base and base["cluster_id"].notna().any()
    keys = resampling_keys(unit_ids, base["cluster_id"].to_numpy(dtype=object)) if clustered else unit_ids

    def unit_features(columns: list[str]) -> pd.DataFrame:
        """One feature row per unit, in ``unit_ids`` order, with at least ``columns``."""
        frame = features(columns) if callable(features) else features
        return (
            frame.drop_duplicates("unit_id")
            .set_index(frame["unit_id"].astype(str).rename("key"))
            .reindex(unit_ids)
            .reset_index(drop=True)
        )

    codes = {economics.control_arm: 0, **{a: i + 1 for i, a in enumerate(economics.arms)}}
    unknown = sorted(set(base["arm"].astype(str).unique()) - set(codes))
    if unknown:
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': units are in arms {unknown} that hte_experiments does not declare."
        )
    arm_code = base["arm"].astype(str).map(codes).to_numpy(dtype=int)
    propensity = base["propensity"].to_numpy(dtype=float)

    stored = {
        m: _fill_constant_arms(_stored_matrix(scores, unit_ids, economics, m, "cate"), scores, economics, m)
        for m in economics.metrics
    }
    complete = all(not np.isnan(matrix).any() for matrix in stored.values())
    single_arm = len(economics.arms) == 1
    if not complete and single_arm:
        short = max(int(np.isnan(matrix).any(axis=1).sum()) for matrix in stored.values())
        raise ValueError(
            f"dbt_hte targeting: experiment '{eid}': {short} units have no out-of-fold score in "
            "hte_cate_scores (trimmed for overlap, or added after it was built); rebuild it with "
            "`dbt build --select hte_cate_scores+`, or drop the trimmed units from the experiment's "
            "inputs so that targeting decides only units with an honest score."
        )
    # A two-arm experiment's stored doubly-robust score is exactly Gamma_i(1) of ``policy_value`` (same out-of-fold
    # nuisances, propensity of the arm received), so it is reused. hte_cate_scores compares each arm with control
    # on those two arms' units only: with several treatment arms, a unit of arm j has neither a score nor
    # nuisances for arm k, so the policy cannot rank its arms and the multi-arm AIPW score (which needs mu_k and
    # mu_0 at every unit) cannot be assembled. Then both come from outcome models cross-fitted here on every arm.
    stored_dr = {m: _stored_matrix(scores, unit_ids, economics, m, "dr_score") for m in economics.metrics}
    dr_reusable = single_arm and all(not np.isnan(matrix).any() for matrix in stored_dr.values())
    fit_outcomes = not complete or (evaluate and not dr_reusable)
    # The features are read only for the outcome models and a per-unit benefit: a two-arm experiment reuses what
    # hte_cate_scores stores (at 10 M units, reading them held 2.8 GiB for nothing).
    benefit_columns = [economics.benefit_column] if economics.benefit_column is not None else []
    feats = (
        unit_features([*feature_columns, *benefit_columns])
        if fit_outcomes
        else unit_features(benefit_columns)
        if benefit_columns
        else None
    )
    benefit = unit_benefit(economics, feats, len(unit_ids))
    X = prepare_features(feats, feature_columns, eid) if fit_outcomes else None

    predicted, dr = {}, {}
    score_source = _learner_label(scores, economics) if complete else "targeting outcome models (cross-fitted)"
    for metric in economics.metrics:
        predicted[metric] = stored[metric]
        if dr_reusable:
            dr[metric] = stored_dr[metric]
        if not fit_outcomes:
            continue
        y = (
            units[units["metric"] == metric]
            .drop_duplicates("unit_id")
            .set_index("unit_id")["y"]
            .reindex(unit_ids)
            .fillna(0.0)
            .to_numpy(dtype=float)
        )
        mu, _ = cross_fitted_outcomes(
            X,
            y,
            arm_code,
            len(codes),
            metric in binary_metrics,
            settings.folds,
            settings.seed,
            fit,
            cluster=keys if clustered else None,
            experiment_id=eid,
        )
        if not complete:
            # An arm whose chosen learner is the constant keeps its constant effect: the evaluation found no
            # unit-level differences worth acting on for it, so the refitted outcome models may not bring theirs
            # back (a losing arm would otherwise reach the units where their noise happens to look good).
            constant = _constant_arms(scores, economics, metric)
            predicted[metric] = np.where(constant[None, :], stored[metric], mu[:, 1:] - mu[:, [0]])
        if evaluate and not dr_reusable:
            dr[metric] = doubly_robust_arm_scores(y, arm_code, propensity, mu)

    planned = net_value(economics, predicted, benefit)
    assignments = {
        name: assign(planned, policy, unit_ids, economics) for name, policy in settings.policies_for(eid).items()
    }
    deployed = assignments[settings.policy]
    unit_table = deployed.table(unit_ids, economics.arms, economics.control_arm)
    unit_table.insert(0, "experiment_id", eid)
    unit_table.insert(2, "policy", settings.policy)
    # The best arm's net value whatever the decision: the score whose distribution the history tracks for drift.
    unit_table["best_net_value"] = planned.value.max(axis=1)
    unit_table["score_source"] = score_source

    if not evaluate:
        return ExperimentTargeting(units=unit_table, policy_value=pd.DataFrame())
    realised = net_value(economics, dr, benefit)
    values = evaluate_policies(
        assignments,
        realised.value,
        planned.cost,
        economics.arms,
        keys,
        settings.bootstrap_replicates,
        settings.seed,
        settings.alpha,
        settings.bootstrap_max_units,
    )
    eligible = None if economics.risk_limit is None else planned.risk_uplift <= economics.risk_limit
    curve = budget_curve(
        planned.value,
        planned.cost,
        realised.value,
        keys,
        eligible,
        settings.curve_points,
        settings.bootstrap_replicates,
        settings.seed,
        settings.alpha,
        settings.bootstrap_max_units,
    )
    curve = curve.rename(columns={"spend": "cost"}).assign(
        policy="budget_curve", policy_kind="budget_curve", n_units=len(unit_ids)
    )
    curve["curve_point"] = np.arange(len(curve))
    table = pd.concat([values.assign(curve_point=pd.NA, predicted_value=np.nan), curve], ignore_index=True)
    table.insert(0, "experiment_id", eid)
    table["is_deployed"] = table["policy"] == settings.policy
    table["score_source"] = score_source
    table["dr_source"] = "hte_cate_scores" if dr_reusable else "targeting outcome models (cross-fitted)"
    return ExperimentTargeting(units=unit_table, policy_value=table)


def segments_table(
    lifts: pd.DataFrame,
    experiments: pd.DataFrame,
    settings: TargetingSettings,
    units=None,
    features=None,
    segment_columns: list[str] | None = None,
) -> pd.DataFrame:
    """``hte_targeting_segments`` for every experiment with economics: from ``hte_segment_lifts``, or, when the
    benefit is a per-unit column, from value lifts computed on ``units`` joined to ``features`` (frames or
    warehouse relations: only the experiment's target-metric rows and the benefit column are read)."""
    frames = []
    for eid in sorted(experiments["experiment_id"].astype(str).unique()):
        economics = settings.economics_for(experiments, eid)
        of = lifts[lifts["experiment_id"] == eid]
        benefit = None
        if economics.benefit_column is not None:
            if units is None or features is None:
                raise ValueError(
                    f"dbt_hte targeting: experiment '{eid}': a per-unit benefit column needs the "
                    "unit rows and features."
                )
            # only this experiment's target-metric rows and the benefit column are read (frames or relations)
            rows = io.fetch(units, None, experiment_id=eid, metric=economics.target_metric)
            # Staging guarantees experiment_id is on every feature row or on none (one snapshot for all).
            own = io.filtered(features, experiment_id=eid)
            scoped = own if io.any_rows(own) else io.filtered(features, experiment_id=None)
            feats = io.fetch(scoped, ["unit_id", economics.benefit_column]).drop_duplicates("unit_id")
            rows = rows.merge(feats, on="unit_id", how="left")
            b = unit_benefit(economics, rows, len(rows))
            target = segment_value_lifts(
                rows, b, list(segment_columns or []), economics.control_arm, eid, economics.target_metric
            )
            benefit = 1.0
        else:
            target = of[of["metric"] == economics.target_metric]
        cost = of[of["metric"] == economics.cost_metric] if economics.cost_metric else None
        risk = of[of["metric"] == economics.risk_metric] if economics.risk_metric else None
        frames.append(
            segment_decisions(
                target,
                economics,
                benefit,
                cost,
                risk,
                settings.alpha,
                settings.interval_adjustment,
                settings.min_segment_size,
            )
        )
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in SEGMENT_TABLE_SCHEMA.items()})
    return pd.concat(frames, ignore_index=True)


# The hte_cate_scores columns targeting reads: the chosen learner's score and the stored doubly-robust score.
TARGETING_SCORE_COLUMNS = ["experiment_id", "metric", "arm", "learner", "unit_id", "cate", "dr_score"]


def experiment_units(
    experiment_id: str, units, assignments, experiments: pd.DataFrame, metrics: tuple[str, ...]
) -> pd.DataFrame:
    """One experiment's unit rows of ``metrics`` (the target metric first) with the propensity of the arm
    received (the input's, else the design share). Each input is a pandas frame or a warehouse relation: only this
    experiment's rows and the columns targeting uses are read, joined in the warehouse."""
    unit_columns = [c for c in ("unit_id", "arm", "metric", "y", "cluster_id") if c in list(units.columns)]
    of_experiment = io.filtered(units, experiment_id=experiment_id, metric=list(metrics))
    received = select_columns(io.filtered(assignments, experiment_id=experiment_id), ["unit_id", "propensity"])
    rows = to_pandas(io.left_join(select_columns(of_experiment, unit_columns), received, ["unit_id"]), compact=True)
    rows = rows.sort_values(["metric", "unit_id"], kind="stable", ignore_index=True)
    rows.insert(0, "experiment_id", experiment_id)
    shares = experiments[experiments["experiment_id"] == experiment_id].set_index("arm")["expected_share"]
    rows["propensity"] = rows["propensity"].astype(float).fillna(rows["arm"].map(shares).astype(float))
    return rows


def experiment_features(
    experiment_id: str, units, features, target_metric: str, feature_columns: list[str]
) -> pd.DataFrame:
    """One feature row per unit of the experiment's target metric, with ``feature_columns`` (frames or relations,
    joined in the warehouse)."""
    present = list(features.columns)
    wanted = ["unit_id", *[c for c in dict.fromkeys(feature_columns) if c in present and c != "unit_id"]]
    # Staging guarantees experiment_id is on every feature row or on none (one snapshot for every experiment).
    own = io.filtered(features, experiment_id=experiment_id)
    scoped = own if io.any_rows(own) else io.filtered(features, experiment_id=None)
    target_units = select_columns(io.filtered(units, experiment_id=experiment_id, metric=target_metric), ["unit_id"])
    feats = to_pandas(io.left_join(target_units, select_columns(scoped, wanted), ["unit_id"]), compact=True)
    return feats.sort_values("unit_id", kind="stable", ignore_index=True)


def targeting_segments_table(lifts, experiments, units, features, settings: TargetingSettings) -> pd.DataFrame:
    """hte_targeting_segments from the relations: every experiment that declares economics (the others need no
    decision), from hte_segment_lifts, and the unit rows and features read only when some experiment's benefit is
    a per-unit column (value lifts are then computed from that experiment's unit rows, read one experiment at a
    time)."""
    experiments = to_pandas(experiments)
    priced = experiments["experiment_id"].astype(str).isin(priced_experiment_ids(experiments))
    return segments_table(
        to_pandas(lifts), experiments[priced], settings, units, features, list(settings.segment_columns)
    )


def priced_experiment_ids(experiments: pd.DataFrame) -> set[str]:
    """Experiments that declare targeting economics (a target_metric on some arm). Economics are optional in the
    input contract: an experiment without them gets lifts, tests and scores, but no targeting decision."""
    declared = experiments.loc[experiments["target_metric"].notna(), "experiment_id"]
    return set(declared.astype(str))


def priced_experiments_targeting(
    experiments,
    scores,
    evaluation,
    units,
    assignments,
    features,
    settings: TargetingSettings,
    evaluate: bool,
    log=progress,
) -> Iterator[ExperimentTargeting]:
    """experiment_targeting for every experiment that has chosen out-of-fold scores and declares economics
    (the others get no decisions: economics are optional, not an error), one experiment at a time: only that
    experiment's unit rows, features and chosen scores are read from the warehouse, and released before the
    next experiment is read. Inputs are pandas frames or warehouse relations (``hte_engine.io``)."""
    experiments = to_pandas(experiments)
    evaluation = (
        None if evaluation is None else io.fetch(evaluation, ["experiment_id", "metric", "arm", "learner", "is_chosen"])
    )
    scored = io.group_counts(scores, ["experiment_id", "metric", "arm", "learner"])
    pairs = chosen_learners(evaluation, settings.learner, scored) if len(scored) else scored
    for eid in sorted(set(pairs["experiment_id"].astype(str)) & priced_experiment_ids(experiments)):
        economics = settings.economics_for(experiments, eid)
        picked = pairs[(pairs["experiment_id"].astype(str) == eid) & pairs["metric"].isin(list(economics.metrics))]
        unscored = sorted(
            {(m, a) for m in economics.metrics for a in economics.arms}
            - set(zip(picked["metric"].astype(str), picked["arm"].astype(str)))
        )
        if unscored:
            # A comparison the uplift models could not run (an arm too small, an outcome that never varies) has no
            # chosen scores: the experiment cannot be targeted, which hte_learner_evaluation's status rows explain.
            # The other experiments are still decided.
            log(
                f"targeting: experiment '{eid}' skipped: no chosen out-of-fold scores for "
                + ", ".join(f"metric '{m}' arm '{a}'" for m, a in unscored)
                + " (see their status in hte_learner_evaluation)"
            )
            continue
        parts = [
            io.fetch(
                scores,
                TARGETING_SCORE_COLUMNS,
                compact=True,
                experiment_id=eid,
                metric=r.metric,
                arm=r.arm,
                learner=r.learner,
            )
            for r in picked.itertuples()
        ]
        chosen = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TARGETING_SCORE_COLUMNS)
        rows_needed = int(
            io.group_counts(units, ["metric"], experiment_id=eid, metric=list(economics.metrics))["n"].sum()
        )
        # Per unit row: its outcome and features, and one column per arm of each effect and score matrix.
        per_row = 8.0 * (16 + 3 * len(settings.feature_columns) + 6 * (len(economics.arms) + 1))
        io.check_memory(
            "targeting",
            f"experiment '{eid}' (metrics {', '.join(economics.metrics)})",
            rows_needed,
            per_row,
            settings.memory_budget,
            "Raise the var on a machine that has the memory, or run "
            "`dbt build --threads 1` (one Python model at a time) with the var at half the memory.",
        )
        rows = experiment_units(eid, units, assignments, experiments, economics.metrics)
        feats = functools.partial(experiment_features, eid, units, features, economics.target_metric)
        yield experiment_targeting(
            economics,
            rows,
            feats,
            chosen,
            settings,
            list(settings.feature_columns),
            set(settings.binary_metrics),
            evaluate=evaluate,
        )


UNIT_TABLE_COLUMNS = {
    "experiment_id": "string", "unit_id": "string", "policy": "string", "chosen_arm": "string",
    "expected_net_value": "float64", "expected_cost": "float64", "decision": "string", "reason": "string",
    "is_exploration": "boolean", "best_net_value": "float64", "score_source": "string",
}  # fmt: skip
POLICY_VALUE_SCHEMA = {
    "experiment_id": "string", "policy": "string", "policy_kind": "string", "value": "float64",
    "value_per_unit": "float64", "std_error": "float64", "ci_low": "float64", "ci_high": "float64",
    "n_units": "Int64", "n_treated": "float64", "cost": "float64", "reference_policy": "string",
    "difference_vs_treat_all": "float64", "difference_vs_treat_all_ci_low": "float64",
    "difference_vs_treat_all_ci_high": "float64", "difference_vs_random": "float64",
    "difference_vs_random_ci_low": "float64", "difference_vs_random_ci_high": "float64", "curve_point": "Int64",
    "predicted_value": "float64", "is_deployed": "boolean", "score_source": "string", "dr_source": "string",
    "bootstrap_units": "Int64",
}  # fmt: skip
POLICY_VALUE_COLUMNS = list(POLICY_VALUE_SCHEMA)


def targeting_units_table(
    experiments, scores, evaluation, units, assignments, features, settings: TargetingSettings, session=None
):
    """hte_targeting_units, one experiment at a time (streamed to the warehouse on DuckDB)."""
    results = priced_experiments_targeting(
        experiments, scores, evaluation, units, assignments, features, settings, evaluate=False
    )
    return io.stream_table((result.units for result in results), UNIT_TABLE_COLUMNS, session)


def policy_value_table(
    experiments, scores, evaluation, units, assignments, features, settings: TargetingSettings
) -> pd.DataFrame:
    """hte_policy_value for every priced experiment with scores (a few rows per experiment)."""
    frames = [
        result.policy_value
        for result in priced_experiments_targeting(
            experiments, scores, evaluation, units, assignments, features, settings, evaluate=True
        )
    ]
    if not frames:
        # No experiment has out-of-fold scores yet (hte_cate_scores is empty): an empty table, not a failure.
        return pd.DataFrame(columns=POLICY_VALUE_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def targeting_table(
    experiments, scores, evaluation, units, assignments, features, settings: TargetingSettings, session=None
):
    """int_hte_targeting: per priced experiment, its units' decisions (part 'units') and its policies' values
    (part 'policy_value') from one pass, stacked with the union of their columns. hte_targeting_units and
    hte_policy_value select their rows and documented columns from it, so a multi-arm experiment's outcome models
    are cross-fitted once, not once per table. Streamed to the warehouse on DuckDB, one experiment at a time."""
    union = {"part": "string", **UNIT_TABLE_COLUMNS}
    union.update({c: t for c, t in POLICY_VALUE_SCHEMA.items() if c not in union})

    def frames():
        for result in priced_experiments_targeting(
            experiments, scores, evaluation, units, assignments, features, settings, evaluate=True
        ):
            yield result.units.assign(part="units")
            yield result.policy_value.assign(part="policy_value")

    return io.stream_table(frames(), union, session)
