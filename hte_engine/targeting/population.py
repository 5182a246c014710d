"""Deploy the policy on a population: decide for units that were never in the experiment, under the business's
rules, with a policy test built in (issue 15; reference 003, "Operationalizing uplift" and "Validate the
personalization policy with a policy test").

``hte_population_targeting`` reads the population (``int_hte_population_units``: one row per unit, eligibility and
frequency cap already applied in SQL) one batch at a time, scores it with the stored deployment models of
``hte_deployment_runs`` and writes one row per unit x experiment. For every unit, in this order:

1. ineligible (the eligibility column or rule) or frequency-capped: not treated, reason in words;
2. otherwise a seeded hash of (seed, experiment, unit id) puts it in the policy test: ``holdout`` (business as
   usual: nobody treated, or var hte_population_holdout_arm for everyone), ``exploration`` (an arm drawn at random,
   control included) or ``policy``. Held-out and exploration units are assigned whatever their features: that is
   what keeps the comparison with the policy group randomised;
3. a policy unit whose features the model cannot score honestly gets no score and is not treated: a missing value
   where the experiment had none, a category the experiment never saw, a number outside the experiment's range
   (flagged, never extrapolated silently), or a missing per-unit economics value;
4. the others are decided by the deployed policy (``targeting.assign``: threshold, top_k, capacity or budget, with
   the risk constraint), exactly the policy layer ``hte_targeting_units`` uses.

The policy logic is kept apart from the model (reference 003): changing a rule, a cap, the holdout share or the
policy needs no refit. The threshold policy decides each unit on its own, so a batch is decided and written before
the next is read; top_k, capacity and budget rank units against each other, so their first pass keeps only each
candidate's net value and cost (a few floats per unit) and a second pass re-scores and writes.

``hte_population_drift`` compares the population with the experiment's units, feature by feature: population
stability index, missingness, the share outside the experiment's support, and the eligibility and capped rates.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hte_engine import io
from hte_engine.progress import Log
from hte_engine.settings import meta_values, run_date_setting
from hte_engine.targeting.deployment import RUN_COLUMNS, Deployment, deployment_runs_table, deserialise
from hte_engine.targeting.policies import (
    REASON_BUDGET,
    REASON_CAPACITY,
    REASON_NEGATIVE,
    REASON_RISK,
    REASON_TOP_K,
    REASON_UNCERTAIN,
    Economics,
    NetValue,
    Policy,
    assign,
    at_chosen_arm,
    net_value,
)
from hte_engine.targeting.tables import TargetingSettings, priced_experiment_ids
from hte_engine.uplift.tables import UpliftSettings

GROUP_POLICY, GROUP_HOLDOUT, GROUP_EXPLORATION = "policy", "holdout", "exploration"

# Reason codes (stable, for filtering) and the words the reason column gives for assign()'s reasons.
POLICY_REASONS = {
    REASON_NEGATIVE: ("below_threshold", "below threshold: no arm has a positive expected net value"),
    REASON_RISK: ("risk", "risk: every arm with a positive value exceeds the guardrail limit"),
    REASON_UNCERTAIN: ("uncertain", "too uncertain"),
    REASON_BUDGET: ("budget_exhausted", "budget exhausted: the budget went to units of higher value per cost"),
    REASON_CAPACITY: ("capacity_exhausted", "capacity exhausted: the slots went to units of higher value"),
    REASON_TOP_K: ("outside_top_k", "outside the top k: the share went to units of higher value"),
}

POPULATION_COLUMNS = {
    "experiment_id": "string", "unit_id": "string", "run_date": "string", "policy": "string",
    "holdout_group": "string", "chosen_arm": "string", "decision": "string", "reason_code": "string",
    "reason": "string", "expected_net_value": "float64", "expected_cost": "float64", "best_arm": "string",
    "best_net_value": "float64", "predicted_effect": "float64", "predicted_effects": "string",
    "support_status": "string", "is_eligible": "boolean", "is_frequency_capped": "boolean",
    "n_recent_contacts": "Int64", "followup_experiment_id": "string", "followup_arm": "string",
    "deployment_models": "string",
}  # fmt: skip

DRIFT_COLUMNS = {
    "experiment_id": "string", "run_date": "string", "feature": "string", "kind": "string", "psi": "float64",
    "psi_status": "string", "n_bins": "Int64", "n_experiment": "Int64", "n_population": "Int64",
    "experiment_missing_share": "float64", "population_missing_share": "float64",
    "population_outside_support_share": "float64", "eligibility_rate": "float64",
    "frequency_capped_rate": "float64", "bins": "string",
}  # fmt: skip

# Population stability index bands (the credit-scoring rule of thumb): below 0.1 stable, 0.1 to 0.25 a moderate
# shift worth a look, above 0.25 a population the experiment no longer describes.
PSI_MODERATE, PSI_SHIFTED = 0.1, 0.25
# Share given to an empty bin before the logarithm: PSI is infinite otherwise, and a level the experiment never saw
# should count as a large shift, not break the table.
PSI_FLOOR = 1e-4


def _fail(message: str) -> None:
    raise ValueError(f"dbt_hte population: {message}")


@dataclass(frozen=True)
class PopulationSettings:
    """Settings of the population models, read from ``config: meta:`` (keys = var names without ``hte_``)."""

    uplift: UpliftSettings
    targeting: TargetingSettings
    run_date: str
    holdout_share: float = 0.05
    exploration_share: float = 0.05
    # Business as usual for the holdout: None (treat nobody), an arm, or a mapping experiment_id -> arm.
    holdout_arm: object = None
    seed: int = 20261203
    followup_experiment: object = None
    psi_bins: int = 10
    frequency_cap: dict | None = None
    # Whether var hte_targeting_population is set: without a population the deployment fits would serve nothing.
    population_is_set: bool = False
    # None: effects are the deployed models' predictions; 'deciles': mapped through the experiment's calibration
    # deciles (hte_uplift_deciles), for thresholds on calibrated effects (reference 003, "Calibration").
    calibration: str | None = None

    @classmethod
    def from_meta(cls, meta: dict) -> PopulationSettings:
        m = meta_values(meta)
        run_date = run_date_setting(m.get("run_date"), "population") or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d")

        def number(key, default, cast=float):
            value = m.get(key)
            return default if value is None else cast(value)

        holdout = number("population_holdout_share", 0.05)
        exploration = number("population_exploration_share", 0.05)
        if not (0 <= holdout < 1 and 0 <= exploration < 1 and holdout + exploration < 1):
            _fail(
                f"vars hte_population_holdout_share ({holdout}) and hte_population_exploration_share "
                f"({exploration}) must each be in [0, 1) and sum to less than 1: the rest of the eligible units "
                "are the policy group."
            )
        bins = number("population_psi_bins", 10, int)
        if bins < 2:
            _fail(f"var hte_population_psi_bins must be at least 2; got {bins}.")
        cap = m.get("population_frequency_cap")
        arm = m.get("population_holdout_arm")
        return cls(
            uplift=UpliftSettings.from_meta(m),
            targeting=TargetingSettings.from_meta(m),
            run_date=run_date,
            holdout_share=holdout,
            exploration_share=exploration,
            holdout_arm=arm if isinstance(arm, dict) else (None if arm in (None, "") else str(arm)),
            seed=number("population_seed", 20261203, int),
            followup_experiment=m.get("population_followup_experiment"),
            psi_bins=bins,
            frequency_cap=cap if isinstance(cap, dict) else None,
            population_is_set=bool(m.get("population_is_set")),
            calibration=_calibration_setting(m.get("population_calibration")),
        )

    def holdout_arm_for(self, experiment_id: str) -> str | None:
        value = self.holdout_arm.get(experiment_id) if isinstance(self.holdout_arm, dict) else self.holdout_arm
        return None if value in (None, "") else str(value)

    def followup_experiment_for(self, experiment_id: str) -> str:
        value = self.followup_experiment
        if isinstance(value, dict):
            value = value.get(experiment_id)
        return str(value) if value not in (None, "") else f"{experiment_id}_policy_test"

    def economics_metrics(self, experiments) -> dict[str, tuple[str, ...]]:
        """Priced experiment -> the metrics its economics use (a deployment model per metric and arm)."""
        experiments = io.to_pandas(experiments)
        return {
            eid: self.targeting.economics_for(experiments, eid).metrics
            for eid in sorted(priced_experiment_ids(experiments))
        }


def _calibration_setting(value) -> str | None:
    if value in (None, "", "none", "model"):
        return None
    if str(value) != "deciles":
        _fail(
            f"var hte_population_calibration must be null (the models' effects) or 'deciles' (effects mapped "
            f"through the experiment's calibration deciles, hte_uplift_deciles); got {value!r}."
        )
    return "deciles"


@dataclass(frozen=True)
class DecileCalibration:
    """Predicted effect -> calibrated effect, from one learner's calibration deciles: the observed lift of each
    decile against its mean prediction, made non-decreasing by weighted isotonic regression (a ranking model's
    deciles should be ordered; the raw decile lifts carry their sampling noise), and interpolated linearly between
    deciles. Beyond the outer deciles the outer values are kept: no extrapolation past what the experiment
    observed. A learner with tied scores (the constant) has one group: its observed lift for everyone."""

    predicted: np.ndarray
    calibrated: np.ndarray

    @classmethod
    def from_deciles(cls, rows: pd.DataFrame) -> DecileCalibration:
        rows = rows.dropna(subset=["mean_predicted", "observed_lift"]).sort_values("mean_predicted")
        if rows.empty:
            raise ValueError("no decile with a mean prediction and an observed lift")
        x = rows["mean_predicted"].to_numpy(dtype=float)
        y = rows["observed_lift"].to_numpy(dtype=float)
        w = rows["n_units"].to_numpy(dtype=float)
        if len(rows) > 1:
            from sklearn.isotonic import IsotonicRegression

            y = IsotonicRegression(increasing=True).fit(x, y, sample_weight=w).predict(x)
        return cls(x, y)

    def __call__(self, effect: np.ndarray) -> np.ndarray:
        if self.predicted.size == 1:
            return np.full(np.shape(effect), float(self.calibrated[0]))
        return np.interp(effect, self.predicted, self.calibrated)


def unit_hash_uniforms(unit_ids, seed: int, salt: str) -> np.ndarray:
    """One uniform per unit from a hash of (seed, salt, unit id): the unit's group does not depend on row order,
    batching, or which other units are in the population, so next week's run puts a returning unit in the same
    group (a policy test whose groups reshuffle weekly would measure nothing)."""
    ids = pd.Series(unit_ids).astype(str)
    keys = (f"{int(seed)}:{salt}:" + ids).to_numpy(dtype=object)
    hashes = pd.util.hash_array(keys, categorize=False)
    return (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53


@dataclass
class ExperimentDeployment:
    """Everything needed to decide one experiment's units: economics, the deployed policy, one model per
    (metric, arm), or why there is none."""

    experiment_id: str
    economics: Economics | None
    policy: Policy | None
    models: dict[tuple[str, str], Deployment]
    unavailable: str | None
    label: str
    calibrators: dict = dataclasses.field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return sorted({f for d in self.models.values() for f in d.features})


def load_deployments(
    runs, experiments: pd.DataFrame, settings: PopulationSettings, deciles=None
) -> list[ExperimentDeployment]:
    """The priced experiments with their stored models (read from hte_deployment_runs one experiment at a time)
    and, with var hte_population_calibration: deciles, each model's calibration map (``deciles``:
    hte_uplift_deciles)."""
    out = []
    for eid, metrics in settings.economics_metrics(experiments).items():
        economics = settings.targeting.economics_for(experiments, eid)
        rows = io.fetch(
            runs, ["metric", "arm", "learner", "status", "reason", "model_sha256", "model_blob"], experiment_id=eid
        )
        models, missing = {}, []
        for metric in metrics:
            for arm in economics.arms:
                match = rows[(rows["metric"].astype(str) == metric) & (rows["arm"].astype(str) == arm)]
                ok = match[match["status"].astype(str) == "ok"] if len(match) else match
                if ok.empty or pd.isna(ok["model_blob"].iloc[0]):
                    why = (
                        str(match["reason"].iloc[0])
                        if len(match) and not pd.isna(match["reason"].iloc[0])
                        else "not in hte_deployment_runs"
                    )
                    missing.append(f"metric '{metric}' arm '{arm}': {why}")
                    continue
                models[(metric, arm)] = deserialise(str(ok["model_blob"].iloc[0]))
        sha = {(str(r.metric), str(r.arm)): str(r.model_sha256) for r in rows.itertuples()}
        label = "; ".join(
            f"{m}/{a}: {models[(m, a)].learner_name} (sha256 {sha[(m, a)][:12]})" for m, a in sorted(models)
        )
        holdout_arm = settings.holdout_arm_for(eid)
        if holdout_arm is not None and holdout_arm not in economics.arms:
            _fail(
                f"experiment '{eid}': var hte_population_holdout_arm is '{holdout_arm}', which is not one of its "
                f"treatment arms {list(economics.arms)}; use one of them, null (treat nobody), or a mapping "
                "experiment_id -> arm."
            )
        policies = settings.targeting.policies_for(eid)
        # The policy test's exploration is drawn here (over the eligible population, before the support screen),
        # so the policy itself explores nothing.
        policy = dataclasses.replace(policies[settings.targeting.policy], exploration_share=0.0)
        calibrators = {}
        if settings.calibration == "deciles" and deciles is not None:
            for (metric, arm), model in models.items():
                rows = io.fetch(
                    deciles,
                    ["learner", "decile", "n_units", "mean_predicted", "observed_lift"],
                    experiment_id=eid,
                    metric=metric,
                    arm=arm,
                )
                rows = rows[rows["learner"].astype(str) == model.learner_name]
                try:
                    calibrators[(metric, arm)] = DecileCalibration.from_deciles(rows)
                except ValueError as error:
                    _fail(
                        f"experiment '{eid}', metric '{metric}', arm '{arm}': var hte_population_calibration is "
                        f"'deciles' but hte_uplift_deciles has {error} for learner '{model.learner_name}'; "
                        "rebuild hte_uplift_deciles or unset the var."
                    )
            label = label + " (effects calibrated on the experiment's deciles)"
        out.append(
            ExperimentDeployment(
                eid,
                economics,
                policy,
                models,
                "no deployed model for " + "; ".join(missing) if missing else None,
                label,
                calibrators,
            )
        )
    return out


@dataclass
class ScoredBatch:
    """One batch of one experiment, before the policy: per-unit groups, screens and net values."""

    frame: pd.DataFrame  # unit_id, is_eligible, ineligible_reason, is_frequency_capped, n_recent_contacts
    group: np.ndarray  # policy / holdout / exploration, None when not eligible or capped
    screen_code: np.ndarray  # pre-policy reason code (None: decided by the policy or the group)
    screen_reason: np.ndarray
    effects: dict[str, np.ndarray]  # metric -> (n, K), NaN where not scored
    value: np.ndarray  # (n, K), NaN where not scored
    cost: np.ndarray  # (n, K), NaN where unknown
    support_status: np.ndarray

    @property
    def candidates(self) -> np.ndarray:
        """Units the policy decides: in the policy group and scored."""
        return (self.group == GROUP_POLICY) & (self.screen_code == None)  # noqa: E711 (object array)


def _words(values: np.ndarray, template: str, mask: np.ndarray) -> np.ndarray:
    out = np.full(values.shape[0], "", dtype=object)
    out[mask] = [template.format(v) for v in values[mask]]
    return out


def _support_screen(frame: pd.DataFrame, exp: ExperimentDeployment) -> tuple[np.ndarray, np.ndarray]:
    """(missing words, outside words) per unit: features the models would have to guess for. A missing value is
    fine where the experiment had missing values (the model learned what missing means there)."""
    n = len(frame)
    missing = [np.full(n, "", dtype=object)]
    outside = [np.full(n, "", dtype=object)]
    support = {}
    for model in exp.models.values():
        for name, spec in model.support.items():
            support.setdefault(name, spec)
    for name in sorted(support):
        spec = support[name]
        if name not in frame.columns:
            _fail(
                f"experiment '{exp.experiment_id}': the deployed model reads feature '{name}', which "
                "hte_targeting_population does not have; add it (same definition as in hte_unit_features)."
            )
        raw = frame[name]
        is_missing = raw.isna().to_numpy()
        if not spec.has_missing:
            missing.append(np.where(is_missing, name, ""))
        if spec.kind == "numeric":
            values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
            if spec.low is None:
                continue
            with np.errstate(invalid="ignore"):
                low, high = values < spec.low, values > spec.high
            outside.append(_words(values, f"{name} = {{:g}} below the experiment's smallest value {spec.low:g}", low))
            outside.append(_words(values, f"{name} = {{:g}} above the experiment's largest value {spec.high:g}", high))
        else:
            text = raw.astype("string")
            seen = set(spec.levels) | set(spec.folded)
            unseen = (~text.isin(list(seen)) & text.notna()).to_numpy(dtype=bool)
            outside.append(
                _words(
                    text.to_numpy(dtype=object, na_value=None), f"{name} = '{{}}' never seen in the experiment", unseen
                )
            )

    def join(parts):
        # Text only for the rows that have something to say, and once per distinct combination of words (a
        # population missing a feature altogether has one sentence, not one join per unit).
        parts = [p for p in parts if (p != "").any()]
        out = np.full(n, "", dtype=object)
        if not parts:
            return out
        stacked = pd.DataFrame({i: p for i, p in enumerate(parts)})
        rows = np.flatnonzero((stacked != "").any(axis=1).to_numpy())
        affected = stacked.iloc[rows]
        group = affected.groupby(list(affected.columns), sort=False).ngroup().to_numpy()
        first = affected.drop_duplicates()
        words = np.array([", ".join(v for v in r if v) for r in first.itertuples(index=False)], dtype=object)
        out[rows] = words[group]
        return out

    return join(missing), join(outside)


def score_batch(frame: pd.DataFrame, exp: ExperimentDeployment, settings: PopulationSettings) -> ScoredBatch:
    n = len(frame)
    eid = exp.experiment_id
    unit_ids = frame["unit_id"].astype(str).to_numpy(dtype=object)
    eligible = frame["is_eligible"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    capped = frame["is_frequency_capped"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    code = np.full(n, None, dtype=object)
    reason = np.full(n, None, dtype=object)
    code[~eligible] = "ineligible"
    reason[~eligible] = (
        "ineligible: " + frame.loc[~eligible, "ineligible_reason"].fillna("not eligible").astype(str)
    ).to_numpy(dtype=object)
    capped = capped & eligible
    if capped.any():
        cap = settings.frequency_cap or {}
        contacts = frame.loc[capped, "n_recent_contacts"].astype(int).to_numpy()
        code[capped] = "frequency_cap"
        reason[capped] = [
            f"frequency cap: contacted {c} times in the last {cap.get('days', '?')} days (at most "
            f"{int(cap.get('max_contacts', 0)) - 1 if cap else '?'} allowed)"
            for c in contacts
        ]

    group = np.full(n, None, dtype=object)
    decidable = eligible & ~capped
    u = unit_hash_uniforms(unit_ids, settings.seed, f"group:{eid}")
    group[decidable] = GROUP_POLICY
    group[decidable & (u < settings.holdout_share + settings.exploration_share)] = GROUP_EXPLORATION
    group[decidable & (u < settings.holdout_share)] = GROUP_HOLDOUT

    k = len(exp.economics.arms) if exp.economics is not None else 0
    effects = {m: np.full((n, k), np.nan) for m in (exp.economics.metrics if exp.economics else ())}
    value = np.full((n, k), np.nan)
    cost = np.full((n, k), np.nan)
    support_status = np.full(n, None, dtype=object)
    if exp.unavailable is not None:
        policy_units = group == GROUP_POLICY
        code[policy_units] = "no_model"
        reason[policy_units] = f"not scored: {exp.unavailable}"
        return ScoredBatch(frame, group, code, reason, effects, value, cost, support_status)

    economics = exp.economics
    missing_words, outside_words = _support_screen(frame, exp)
    has_missing = missing_words != ""
    has_outside = outside_words != ""
    benefit = np.ones(n)
    no_benefit = np.zeros(n, dtype=bool)
    if economics.benefit_column is not None:
        if economics.benefit_column not in frame.columns:
            _fail(
                f"experiment '{eid}': its benefit column '{economics.benefit_column}' (var "
                "hte_targeting_economics) is not a column of hte_targeting_population; add it."
            )
        benefit = pd.to_numeric(frame[economics.benefit_column], errors="coerce").to_numpy(dtype=float)
        no_benefit = ~np.isfinite(benefit)
    else:
        benefit = np.full(n, float(economics.benefit_per_unit))
    support_status[:] = "in_support"
    support_status[has_outside] = "outside_support"
    support_status[has_missing] = "missing_features"
    scorable = ~has_missing & ~has_outside & ~no_benefit
    rows = np.flatnonzero(scorable)
    if rows.size:
        part = frame.iloc[rows]
        for (metric, arm), model in exp.models.items():
            predicted = model.predict(part)
            calibrate = exp.calibrators.get((metric, arm))
            effects[metric][rows, economics.arms.index(arm)] = predicted if calibrate is None else calibrate(predicted)
        net = net_value(economics, {m: e[rows] for m, e in effects.items()}, benefit[rows])
        value[rows], cost[rows] = net.value, net.cost
    if economics.cost_metric is None:
        # Without a cost metric the cost of an arm does not depend on the unit: known even for units not scored,
        # so the spend of held-out and exploration units is counted.
        cost[:] = np.array([economics.cost_per_treated[a] for a in economics.arms])[None, :]

    in_policy = group == GROUP_POLICY
    for mask, words, label, prefix in (
        (has_outside, outside_words, "outside_support", "outside the experiment's support (not extrapolated): "),
        (no_benefit, None, "missing_economics", None),
        (has_missing, missing_words, "missing_features", "missing feature values the experiment never had: "),
    ):
        hit = in_policy & mask
        code[hit] = label
        if words is None:
            reason[hit] = f"missing economics value: {economics.benefit_column} (the per-unit benefit) is null"
        else:
            reason[hit] = prefix + words[hit]
    return ScoredBatch(frame, group, code, reason, effects, value, cost, support_status)


def _json_per_row(arms: tuple[str, ...], matrix: np.ndarray) -> np.ndarray:
    """{"arm": value, ...} per row; null for a row without effects (not scored)."""
    n = matrix.shape[0]
    out = np.full(n, None, dtype=object)
    if not arms or n == 0:
        return out
    scored = np.flatnonzero(np.isfinite(matrix).all(axis=1))
    if scored.size:
        # Vectorised formatting (numpy's C loops): a Python f-string per unit would cost more than the scoring.
        text = np.full(scored.size, "{", dtype=object)
        for j, arm in enumerate(arms):
            prefix = (", " if j else "") + json.dumps(arm) + ": "
            text = text + prefix + np.char.mod("%.10g", matrix[scored, j]).astype(object)
        out[scored] = text + "}"
    return out


def decide_batch(
    batch: ScoredBatch,
    exp: ExperimentDeployment,
    settings: PopulationSettings,
    policy_arm: np.ndarray | None,
    policy_reason: np.ndarray | None,
) -> pd.DataFrame:
    """The output rows of one scored batch. ``policy_arm`` / ``policy_reason``: the policy's arm index (-1 =
    control) and assign()'s reason for the batch's candidates, in order."""
    frame = batch.frame
    n = len(frame)
    eid = exp.experiment_id
    economics = exp.economics
    arms = economics.arms if economics is not None else ()
    k = len(arms)
    unit_ids = frame["unit_id"].astype(str).to_numpy(dtype=object)
    arm = np.full(n, -1)
    decision = np.full(n, "hold", dtype=object)
    code, reason = batch.screen_code.copy(), batch.screen_reason.copy()

    holdout = batch.group == GROUP_HOLDOUT
    holdout_arm = settings.holdout_arm_for(eid)
    bau = -1 if holdout_arm is None else arms.index(holdout_arm)
    arm[holdout] = bau
    decision[holdout] = "holdout"
    code[holdout] = "held_out"
    reason[holdout] = "held out for the policy test: business as usual, " + (
        "nobody treated" if bau < 0 else f"arm '{holdout_arm}' for every held-out unit"
    )

    explore = batch.group == GROUP_EXPLORATION
    if k:
        pick = np.minimum(np.floor(unit_hash_uniforms(unit_ids, settings.seed, f"arm:{eid}") * (k + 1)).astype(int), k)
        arm[explore] = np.where(pick[explore] == k, -1, pick[explore])
    decision[explore] = "explore"
    code[explore] = "exploration"
    reason[explore] = "random exploration for the policy test: arm drawn at random, control included"

    candidates = batch.candidates
    if policy_arm is not None and candidates.any():
        idx = np.flatnonzero(candidates)
        arm[idx] = policy_arm
        treated = policy_arm >= 0
        decision[idx[treated]] = "treat"
        for raw, (c, words) in POLICY_REASONS.items():
            hit = idx[~treated & (policy_reason == raw)]
            code[hit], reason[hit] = c, words

    has_arm = arm >= 0
    control = economics.control_arm if economics is not None else None
    names = np.asarray(arms + (control,), dtype=object)
    expected_value, expected_cost = np.zeros(n), np.zeros(n)
    best_value = np.full(n, np.nan)
    best_arm = np.full(n, None, dtype=object)
    predicted = np.where(has_arm, np.nan, 0.0)
    target = batch.effects.get(economics.target_metric) if economics is not None else None
    if k:
        scored = np.isfinite(batch.value).all(axis=1)
        expected_value = at_chosen_arm(batch.value, arm)
        expected_cost = at_chosen_arm(batch.cost, arm)
        # An arm's value is known only for a scored unit, so only a scored unit has a best arm.
        masked = np.where(np.isfinite(batch.value), batch.value, -np.inf)
        best_value = np.where(scored, masked.max(axis=1), np.nan)
        best_arm = np.where(scored, np.where(best_value > 0, names[masked.argmax(axis=1)], control), None)
        predicted = at_chosen_arm(target, arm)
    followup_arm = batch.group.copy()
    return pd.DataFrame(
        {
            "experiment_id": eid,
            "unit_id": unit_ids,
            "run_date": settings.run_date,
            "policy": exp.policy.name if exp.policy is not None else None,
            "holdout_group": batch.group,
            "chosen_arm": names[arm] if economics is not None else None,
            "decision": decision,
            "reason_code": code,
            "reason": reason,
            "expected_net_value": expected_value,
            "expected_cost": expected_cost,
            "best_arm": best_arm,
            "best_net_value": best_value,
            "predicted_effect": predicted,
            "predicted_effects": _json_per_row(arms, target) if target is not None else None,
            "support_status": batch.support_status,
            "is_eligible": frame["is_eligible"].astype("boolean").fillna(False).to_numpy(dtype=bool),
            "is_frequency_capped": frame["is_frequency_capped"].astype("boolean").fillna(False).to_numpy(dtype=bool),
            "n_recent_contacts": frame["n_recent_contacts"].astype("Int64").to_numpy(),
            "followup_experiment_id": np.where(batch.group != None, settings.followup_experiment_for(eid), None),  # noqa: E711
            "followup_arm": followup_arm,
            "deployment_models": exp.label or None,
        }
    )


POPULATION_READ = ["unit_id", "is_eligible", "ineligible_reason", "is_frequency_capped", "n_recent_contacts"]


def _batches(population) -> list:
    counts = io.group_counts(population, ["batch_id"])
    return [int(b) for b in counts["batch_id"].tolist()]


def _read_batch(population, batch_id: int, columns: list[str]) -> pd.DataFrame:
    frame = io.fetch(population, columns, compact=True, batch_id=batch_id)
    # The warehouse returns a batch in no fixed order; decisions and ties must not depend on it.
    return frame.sort_values("unit_id", kind="stable", ignore_index=True)


def _columns(exp: ExperimentDeployment, available: list[str]) -> list[str]:
    """The population columns one experiment's decisions read; a feature the deployed models need and the
    population lacks stops the build here, naming it (staging checks var hte_feature_columns, but a benefit column
    comes from var hte_targeting_economics)."""
    extra = exp.features + ([exp.economics.benefit_column] if exp.economics and exp.economics.benefit_column else [])
    missing = [c for c in dict.fromkeys(extra) if c not in available]
    if missing:
        _fail(
            f"experiment '{exp.experiment_id}': hte_targeting_population has no column {', '.join(missing)}, which "
            "the deployed models or the economics (var hte_targeting_economics) read; add it to the population, "
            "computed as in hte_unit_features."
        )
    return POPULATION_READ + list(dict.fromkeys(extra))


def _policy_decisions(
    value: np.ndarray, cost: np.ndarray, policy: Policy, economics: Economics, unit_ids, risk: np.ndarray | None = None
):
    net = NetValue(value=value, cost=cost, risk_uplift=risk)
    chosen = assign(net, policy, unit_ids, economics)
    return chosen.arm_index, chosen.reason


def iter_population_targeting(
    population, runs, experiments, settings: PopulationSettings, log: Log | None = None, deciles=None
) -> Iterator[pd.DataFrame]:
    """hte_population_targeting's rows, one batch of one experiment at a time."""
    experiments = io.to_pandas(experiments)
    available = list(population.columns)
    batch_ids = _batches(population)
    if not batch_ids:
        return  # no population (var unset, or empty): an empty table with every column, and no model unpickled
    for exp in load_deployments(runs, experiments, settings, deciles):
        columns = _columns(exp, available)
        risk_metric = exp.economics.risk_metric
        if log is not None:
            log(
                f"population: experiment '{exp.experiment_id}': {len(batch_ids)} batches, policy "
                f"{exp.policy.name}" + (f" ({exp.unavailable})" if exp.unavailable else "")
            )
        per_unit = exp.policy.kind == "threshold" or exp.unavailable is not None
        if per_unit:
            for b in batch_ids:
                batch = score_batch(_read_batch(population, b, columns), exp, settings)
                yield _decide_locally(batch, exp, settings, risk_metric)
            continue
        # Ranking policies: pass 1 keeps each candidate's net value and cost, and what the held-out and
        # exploration units spend (the budget and the slots they use come out of the policy's share, as
        # exploration does in targeting.assign). That is linear in the population, so it is checked against the
        # memory budget before anything is read: per unit, value, cost (and risk) per arm, and the unit id.
        k = len(exp.economics.arms)
        n_units = int(io.group_counts(population, ["batch_id"])["n"].sum())
        io.check_memory(
            "hte_population_targeting",
            f"experiment '{exp.experiment_id}' under the {exp.policy.kind} policy",
            n_units,
            8.0 * 3 * k + 96,
            settings.targeting.memory_budget,
            "The threshold policy decides unit by unit in bounded memory; or raise the var on a machine "
            "that has the memory.",
        )
        values, costs, risks, ids = [], [], [], []
        other_spend, other_treated, n_policy = 0.0, 0, 0
        for b in batch_ids:
            batch = score_batch(_read_batch(population, b, columns), exp, settings)
            cand = batch.candidates
            values.append(batch.value[cand])
            costs.append(batch.cost[cand])
            if risk_metric:
                risks.append(batch.effects[risk_metric][cand])
            ids.append(batch.frame["unit_id"].astype(str).to_numpy(dtype=object)[cand])
            rows = decide_batch(batch, exp, settings, None, None)
            others = rows["holdout_group"].isin([GROUP_HOLDOUT, GROUP_EXPLORATION]) & (
                rows["chosen_arm"] != exp.economics.control_arm
            )
            other_spend += float(rows.loc[others, "expected_cost"].fillna(0.0).sum())
            other_treated += int(others.sum())
            n_policy += int((batch.group == GROUP_POLICY).sum())
        value = np.concatenate(values) if values else np.empty((0, len(exp.economics.arms)))
        cost = np.concatenate(costs) if costs else np.empty((0, len(exp.economics.arms)))
        policy = _population_policy(exp, n_policy, other_spend, other_treated)
        arm_index, reasons = _policy_decisions(
            value,
            cost,
            policy,
            exp.economics,
            np.concatenate(ids) if ids else np.array([], dtype=object),
            np.concatenate(risks) if risks else None,
        )
        if exp.policy.kind == "top_k":
            reasons = np.where(reasons == REASON_CAPACITY, REASON_TOP_K, reasons)
        del values, costs, risks, ids, value, cost
        start = 0
        for b in batch_ids:
            batch = score_batch(_read_batch(population, b, columns), exp, settings)
            m = int(batch.candidates.sum())
            yield decide_batch(batch, exp, settings, arm_index[start : start + m], reasons[start : start + m])
            start += m


def _population_policy(exp: ExperimentDeployment, n_policy: int, other_spend: float, other_treated: int) -> Policy:
    """The deployed ranking policy for the policy group's candidates: the budget and the capacity net of what the
    policy test's held-out and exploration units use; top_k as a capacity of k x the policy group's units."""
    p = exp.policy
    eid = exp.experiment_id
    if p.kind == "budget":
        left = float(p.budget) - other_spend
        if left < -1e-9:
            _fail(
                f"experiment '{eid}': the policy test's held-out and exploration units spend {other_spend:.6g}, "
                f"more than the budget {p.budget:g}; lower var hte_population_exploration_share or raise the "
                "budget."
            )
        return dataclasses.replace(p, budget=max(left, 0.0))
    slots = int(p.capacity) if p.kind == "capacity" else int(math.floor(p.top_k * n_policy + 1e-9))
    if p.kind == "capacity":
        slots -= other_treated
        if slots < 0:
            _fail(
                f"experiment '{eid}': the policy test treats {other_treated} held-out and exploration units, more "
                f"than the capacity {int(p.capacity)}; lower var hte_population_exploration_share."
            )
    return Policy("capacity", capacity=slots, seed=p.seed)


def _decide_locally(
    batch: ScoredBatch, exp: ExperimentDeployment, settings: PopulationSettings, risk_metric: str | None
) -> pd.DataFrame:
    cand = batch.candidates
    if exp.unavailable is not None or not cand.any():
        return decide_batch(batch, exp, settings, None, None)
    risk = batch.effects[risk_metric][cand] if risk_metric else None
    arm_index, reasons = _policy_decisions(
        batch.value[cand],
        batch.cost[cand],
        exp.policy,
        exp.economics,
        batch.frame["unit_id"].astype(str).to_numpy(dtype=object)[cand],
        risk,
    )
    return decide_batch(batch, exp, settings, arm_index, reasons)


def _is_spark(relation) -> bool:
    return hasattr(relation, "mapInPandas") and hasattr(relation, "toPandas")


# Spark SQL types of the output columns (the same columns and order as POPULATION_COLUMNS).
_SPARK_TYPES = {"string": "string", "float64": "double", "Int64": "bigint", "boolean": "boolean"}


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The output frame with numpy-backed columns (object strings, float, bool, int): what pyspark's Arrow
    conversion reads whatever the pandas version's extension types."""
    out = io.conform(frame, POPULATION_COLUMNS)[list(POPULATION_COLUMNS)]
    plain = {}
    for column, dtype in POPULATION_COLUMNS.items():
        values = out[column]
        if dtype == "string":
            plain[column] = values.astype(object).where(values.notna(), None)
        elif dtype == "boolean":
            plain[column] = values.fillna(False).astype(bool)
        elif dtype == "Int64":
            plain[column] = values.fillna(0).astype("int64")
        else:
            plain[column] = values.astype(float)
    return pd.DataFrame(plain)


def spark_population_targeting(population, runs, experiments, settings: PopulationSettings, deciles=None):
    """hte_population_targeting where ``dbt.ref`` returns Spark DataFrames (Databricks): the stored models are
    loaded once on the driver and shipped to the executors inside the function ``mapInPandas`` runs, so the
    population is scored where it lives, one Arrow batch at a time, and never collected to the driver. The
    threshold policy decides each unit on its own, so the rows equal the pandas path's; ranking policies (top_k,
    capacity, budget) compare every unit with every other and are refused here with what to do instead."""
    experiments = io.to_pandas(experiments)
    deployments = load_deployments(runs, experiments, settings, deciles)
    ranking = [e.experiment_id for e in deployments if e.policy.kind != "threshold" and e.unavailable is None]
    if ranking:
        _fail(
            f"experiments {ranking}: the {settings.targeting.policy} policy ranks the whole population, which the "
            "Spark scoring (one partition at a time) does not do; use hte_targeting_policy: threshold on Spark, "
            "or run the population models on DuckDB."
        )
    available = list(population.columns)
    wanted = {exp.experiment_id: _columns(exp, available) for exp in deployments}
    read = list(dict.fromkeys(c for columns in wanted.values() for c in columns))
    schema = ", ".join(f"`{c}` {_SPARK_TYPES[t]}" for c, t in POPULATION_COLUMNS.items())

    def score(frames):
        for frame in frames:
            frame = frame.sort_values("unit_id", kind="stable", ignore_index=True)
            for exp in deployments:
                batch = score_batch(frame[wanted[exp.experiment_id]], exp, settings)
                yield _plain(_decide_locally(batch, exp, settings, exp.economics.risk_metric))

    return population.select(*read).mapInPandas(score, schema)


def population_deployment_runs_table(
    units, features, assignments, experiments, evaluation, settings: PopulationSettings, log=None, session=None
):
    """hte_deployment_runs: the chosen learner of each priced comparison refitted on all of its experiment's units
    (hte_engine/targeting/deployment.py); empty, with its columns, while var hte_targeting_population is unset,
    since nothing would use the fits."""
    if not settings.population_is_set:
        return io.stream_table([], RUN_COLUMNS, session)
    return deployment_runs_table(
        units,
        features,
        assignments,
        experiments,
        evaluation,
        settings.uplift,
        settings.targeting.learner,
        settings.economics_metrics(experiments),
        settings.run_date,
        log=log,
        session=session,
    )


def population_targeting_table(
    population, runs, experiments, settings: PopulationSettings, log=None, session=None, deciles=None
):
    if _is_spark(population):
        return spark_population_targeting(population, runs, experiments, settings, deciles)
    return io.stream_table(
        iter_population_targeting(population, runs, experiments, settings, log, deciles), POPULATION_COLUMNS, session
    )


# ------------------------------------------------------------------------------------------------------------------
# Drift
# ------------------------------------------------------------------------------------------------------------------


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index sum((a - e) ln(a / e)) over bins, shares floored at PSI_FLOOR."""
    e = np.maximum(np.asarray(expected, dtype=float), PSI_FLOOR)
    a = np.maximum(np.asarray(actual, dtype=float), PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_status(value: float) -> str:
    if not np.isfinite(value):
        return "not_computed"
    return "stable" if value < PSI_MODERATE else "moderate_shift" if value < PSI_SHIFTED else "shifted"


@dataclass
class FeatureBins:
    """Bins of one feature defined on the experiment's units: quantile edges (numeric) or levels (categorical),
    plus a bin for missing values, so a change in missingness moves the PSI too."""

    name: str
    kind: str
    edges: np.ndarray | None
    levels: list[str]
    expected: np.ndarray  # experiment shares per bin (last bin: missing; categorical: then '(unseen)')
    n_experiment: int
    low: float | None = None
    high: float | None = None

    @classmethod
    def from_experiment(cls, name: str, values: pd.Series, n_bins: int) -> FeatureBins:
        n = len(values)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            finite = x[np.isfinite(x)]
            inner = np.unique(np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1])) if finite.size else np.array([])
            edges = np.concatenate([[-np.inf], inner, [np.inf]])
            bins = cls(
                name,
                "numeric",
                edges,
                [],
                np.array([]),
                n,
                float(finite.min()) if finite.size else None,
                float(finite.max()) if finite.size else None,
            )
        else:
            text = values.astype("string")
            bins = cls(name, "categorical", None, sorted(set(text.dropna().tolist())), np.array([]), n)
        counts = bins.counts(values)
        bins.expected = counts / max(n, 1)
        return bins

    def counts(self, values: pd.Series) -> np.ndarray:
        if self.kind == "numeric":
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x)
            # Right-closed bins: a value equal to a quantile edge falls in the bin below it, in both tables.
            idx = np.searchsorted(self.edges[1:-1], x[ok], side="left")
            out = np.bincount(idx, minlength=len(self.edges) - 1).astype(float)
            return np.append(out, float((~ok).sum()))
        text = values.astype("string")
        codes = pd.Categorical(text.to_numpy(dtype=object, na_value=None), categories=self.levels).codes
        missing = text.isna().to_numpy()
        unseen = (codes < 0) & ~missing
        out = np.bincount(codes[codes >= 0], minlength=len(self.levels)).astype(float)
        return np.concatenate([out, [float(missing.sum()), float(unseen.sum())]])

    def outside(self, values: pd.Series) -> int:
        if self.kind == "numeric":
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            if self.low is None:
                return 0
            with np.errstate(invalid="ignore"):
                return int(((x < self.low) | (x > self.high)).sum())
        return int(self.counts(values)[-1])

    def labels(self) -> list[str]:
        if self.kind == "numeric":
            inner = [f"({a:g}, {b:g}]" for a, b in zip(self.edges[:-1], self.edges[1:])]
            return inner + ["(missing)"]
        return self.levels + ["(missing)", "(unseen)"]


def experiment_feature_frame(features, assignments, experiment_id: str, columns: list[str]) -> pd.DataFrame:
    """The experiment's assigned units with ``columns`` (features per experiment, or one snapshot per unit)."""
    present = [c for c in columns if c in list(features.columns)]
    units = io.select_columns(io.filtered(assignments, experiment_id=experiment_id), ["unit_id"])
    own = io.filtered(features, experiment_id=experiment_id)
    scoped = own if io.any_rows(own) else io.filtered(features, experiment_id=None)
    return io.to_pandas(
        io.left_join(units, io.select_columns(scoped, ["unit_id", *present]), ["unit_id"]), compact=True
    )


def iter_population_drift(
    population, runs, features, assignments, experiments, settings: PopulationSettings, log=None
) -> Iterator[pd.DataFrame]:
    experiments = io.to_pandas(experiments)
    batch_ids = _batches(population)
    if not batch_ids:
        return
    run_rows = io.fetch(runs, ["experiment_id", "status", "features_used"])
    available = list(population.columns)
    for eid in sorted(settings.economics_metrics(experiments)):
        used = run_rows[(run_rows["experiment_id"].astype(str) == eid) & (run_rows["status"].astype(str) == "ok")]
        names = sorted(
            {f.strip() for text in used["features_used"].dropna() for f in str(text).split(",") if f.strip()}
            & set(available)
        )
        exp_frame = experiment_feature_frame(features, assignments, eid, names)
        bins = {name: FeatureBins.from_experiment(name, exp_frame[name], settings.psi_bins) for name in names}
        counts = {name: np.zeros_like(b.expected) for name, b in bins.items()}
        outside = dict.fromkeys(names, 0)
        n_pop = n_eligible = n_capped = 0
        for b in batch_ids:
            frame = io.fetch(population, ["is_eligible", "is_frequency_capped", *names], batch_id=b)
            n_pop += len(frame)
            eligible = frame["is_eligible"].astype("boolean").fillna(False).to_numpy(dtype=bool)
            n_eligible += int(eligible.sum())
            n_capped += int(
                (frame["is_frequency_capped"].astype("boolean").fillna(False).to_numpy(dtype=bool) & eligible).sum()
            )
            for name in names:
                counts[name] += bins[name].counts(frame[name])
                outside[name] += bins[name].outside(frame[name])
        rows = []
        for name in names:
            spec = bins[name]
            actual = counts[name] / max(n_pop, 1)
            missing_slot = len(spec.edges) - 1 if spec.kind == "numeric" else len(spec.levels)
            value = psi(spec.expected, actual) if n_pop and spec.n_experiment else float("nan")
            rows.append(
                {
                    "feature": name,
                    "kind": spec.kind,
                    "psi": value,
                    "psi_status": psi_status(value),
                    "n_bins": len(spec.expected),
                    "n_experiment": spec.n_experiment,
                    "n_population": n_pop,
                    "experiment_missing_share": float(spec.expected[missing_slot]),
                    "population_missing_share": float(actual[missing_slot]),
                    "population_outside_support_share": outside[name] / n_pop if n_pop else float("nan"),
                    "bins": json.dumps(
                        [
                            {
                                "bin": label,
                                "experiment_share": round(float(e), 6),
                                "population_share": round(float(a), 6),
                            }
                            for label, e, a in zip(spec.labels(), spec.expected, actual)
                        ]
                    ),
                }
            )
        # The eligibility row: present even when no feature is used, so the rates are always reported.
        rows.append({"feature": "(eligibility)", "kind": "eligibility", "n_population": n_pop})
        out = pd.DataFrame(rows)
        out["experiment_id"] = eid
        out["run_date"] = settings.run_date
        out["eligibility_rate"] = n_eligible / n_pop if n_pop else float("nan")
        out["frequency_capped_rate"] = n_capped / n_pop if n_pop else float("nan")
        if log is not None:
            worst = out.dropna(subset=["psi"]).sort_values("psi", ascending=False).head(1)
            log(
                f"population drift: experiment '{eid}': {len(names)} features"
                + (f", largest PSI {worst['psi'].iloc[0]:.3f} ({worst['feature'].iloc[0]})" if len(worst) else "")
            )
        yield out


def population_drift_table(
    population, runs, features, assignments, experiments, settings: PopulationSettings, log=None, session=None
):
    return io.stream_table(
        iter_population_drift(population, runs, features, assignments, experiments, settings, log),
        DRIFT_COLUMNS,
        session,
    )
