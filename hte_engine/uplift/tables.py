"""One uplift run per experiment x metric x treatment arm (against the experiment's control arm), for the dbt
Python models.

``plan_comparisons`` lists the runs and decides, before anything is fitted, whether each can be run: both arms
present and large enough (in units, and in clusters when assignments carry a cluster_id), an outcome that varies,
usable features, no feature that leaks the treatment. A run
that cannot be run gets a status and a sentence instead of numbers. The plan is cheap and deterministic, so every
downstream model recomputes it rather than storing it.

``cate_scores`` is the single place where models are fitted: out-of-fold effect scores of every configured
learner, with the nuisances behind them (propensity, mu0, mu1, doubly-robust score) on every row.
``evaluation_tables`` and ``discovered_segments`` read those scores back and never refit a learner.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hte_engine import io
from hte_engine.io import select_columns, to_pandas
from hte_engine.progress import Log
from hte_engine.resampling import bootstrap_units_setting, bounded_sample, resampling_keys
from hte_engine.settings import meta_values
from hte_engine.uplift.balance import leaking_features
from hte_engine.uplift.crossfit import CrossFitConfig, CrossFitResult, clusters_per_arm, cross_fit
from hte_engine.uplift.discovery import discover_segments, effect_drivers
from hte_engine.uplift.evaluation import PARTS, EvaluationConfig, evaluate_learners
from hte_engine.uplift.features import prepare_features
from hte_engine.uplift.learners import LEARNERS
from hte_engine.uplift.propensity import choose_propensity

STATUS_OK = "ok"
KEYS = ["experiment_id", "metric", "arm", "control_arm"]

# Output schemas: column -> pandas dtype. Fixed here so that an output with no rows, or a column that is null
# for every row of a build, still lands in the warehouse with the right type.
SCORE_COLUMNS = {
    "experiment_id": "string", "metric": "string", "arm": "string", "control_arm": "string",
    "learner": "string", "unit_id": "string", "cate": "float64", "fold": "int64", "n_train_rows": "int64",
    "treated": "int64", "propensity": "float64", "propensity_source": "string", "mu0": "float64",
    "mu1": "float64", "dr_score": "float64",
}  # fmt: skip
RUN_COLUMNS = {
    "status": "string", "reason": "string", "features_used": "string", "features_refused": "string",
    "propensity_source": "string", "n_trimmed": "Int64",
}  # fmt: skip


@dataclass(frozen=True)
class UpliftSettings:
    """Settings of every uplift model; ``from_meta`` reads them from a model's ``config: meta:`` (keys are the
    var names without the ``hte_`` prefix)."""

    feature_columns: tuple[str, ...] = ()
    metrics: dict = field(default_factory=dict)
    crossfit: CrossFitConfig = CrossFitConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    p_adjust: str = "holm"
    check_alert_p: float = 0.001
    min_units_per_arm: int = 50
    observational: tuple[str, ...] = ()
    propensity_trim: float = 0.1
    tree_max_depth: int = 3
    min_leaf_size: int = 500
    driver_max_units: int = 20_000
    discovery_max_units: int = 1_000_000
    memory_budget: int = field(default_factory=io.memory_budget_bytes)

    @classmethod
    def from_meta(cls, meta: Mapping) -> UpliftSettings:
        m = meta_values(meta)

        def get(key, cast, default):
            value = m.get(key)
            return default if value is None else cast(value)

        learners = tuple(str(x).lower() for x in (m.get("uplift_learners") or LEARNERS))
        unknown = sorted(set(learners) - set(LEARNERS))
        if unknown:
            raise ValueError(f"var hte_uplift_learners lists unknown learners {unknown}; use some of {list(LEARNERS)}.")
        seed = get("uplift_seed", int, 0)
        alpha = get("alpha", float, 0.05)
        winsorize = m.get("uplift_winsorize_quantile")
        defaults = CrossFitConfig()
        crossfit = CrossFitConfig(
            folds=get("uplift_folds", int, defaults.folds),
            seed=seed,
            max_train_rows=get("uplift_max_train_rows", int, defaults.max_train_rows),
            batch_size=get("uplift_batch_size", int, defaults.batch_size),
            learners=learners,
            base_model=m.get("uplift_base_model") or None,
            winsorize_quantile=None if winsorize is None else float(winsorize),
            outcome_model=str(m.get("uplift_outcome_model") or "direct"),
            threads=get("uplift_threads", int, defaults.threads),
        )
        evaluation = EvaluationConfig(
            bootstrap_replicates=get("uplift_bootstrap_replicates", int, 200),
            seed=seed,
            alpha=alpha,
            curve_points=get("uplift_curve_points", int, 100),
            bootstrap_max_units=bootstrap_units_setting(
                get("uplift_bootstrap_max_units", str, 50_000), "hte_uplift_bootstrap_max_units"
            ),
        )
        metrics = {
            str(name): str((spec or {}).get("kind", "continuous")) for name, spec in (m.get("metrics") or {}).items()
        }
        min_leaf_size = get("uplift_min_leaf_size", int, 500)
        discovery_max_units = get("uplift_discovery_max_units", int, 1_000_000)
        if discovery_max_units < 2 * min_leaf_size:
            # a smaller sample could hold no unit at all, and the honest tree needs a leaf in each half
            raise ValueError(
                f"var hte_uplift_discovery_max_units must be at least twice hte_uplift_min_leaf_size "
                f"({2 * min_leaf_size}); got {discovery_max_units}."
            )
        observational = m.get("uplift_observational") or ()
        if isinstance(observational, str):
            observational = (observational,)
        return cls(
            feature_columns=tuple(str(c) for c in (m.get("feature_columns") or ())),
            metrics=metrics,
            crossfit=crossfit,
            evaluation=evaluation,
            p_adjust=str(m.get("p_adjust") or "holm"),
            check_alert_p=get("check_alert_p", float, 0.001),
            min_units_per_arm=get("uplift_min_units_per_arm", int, 50),
            observational=tuple(str(e) for e in observational),
            propensity_trim=get("uplift_propensity_trim", float, 0.1),
            tree_max_depth=get("uplift_tree_max_depth", int, 3),
            min_leaf_size=min_leaf_size,
            driver_max_units=get("uplift_driver_max_units", int, 20_000),
            discovery_max_units=discovery_max_units,
            memory_budget=io.memory_budget_bytes(m.get("python_memory_budget_gb")),
        )


@dataclass
class ComparisonPlan:
    """One treatment arm against control on one metric; ``units`` holds the rows of both arms when status is ok."""

    experiment_id: str
    metric: str
    arm: str
    control_arm: str
    binary: bool
    n_treatment: int
    n_control: int
    share_treatment: float
    share_control: float
    n_arms: int
    status: str = STATUS_OK
    reason: str = ""
    features_used: list[str] = field(default_factory=list)
    features_refused: list[str] = field(default_factory=list)
    units: pd.DataFrame | None = None
    # Share of the comparison's units (whole clusters) read, by a seeded hash: 1 unless the model bounds its units.
    sample_fraction: float = 1.0

    @property
    def label(self) -> str:
        return f"experiment '{self.experiment_id}', metric '{self.metric}', arm '{self.arm}' vs '{self.control_arm}'"

    def keys(self) -> dict:
        return {
            "experiment_id": self.experiment_id,
            "metric": self.metric,
            "arm": self.arm,
            "control_arm": self.control_arm,
        }

    def cluster_keys(self, frame: pd.DataFrame | None = None):
        """coalesce(cluster_id, unit_id) of the units of ``frame`` (default: the comparison's units), or None when
        no unit of the comparison has a cluster_id (units are then independent and keyed on their own id)."""
        frame = self.units if frame is None else frame
        if self.units is None or not self.units["cluster_id"].notna().any():
            return None
        return resampling_keys(frame["unit_id"], frame["cluster_id"])

    def run_columns(self) -> dict:
        return {
            "status": self.status,
            "reason": self.reason or None,
            "features_used": ", ".join(self.features_used) or None,
            "features_refused": ", ".join(self.features_refused) or None,
        }


def _typed(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Columns of ``schema`` first, in its order and types; any extra columns after them."""
    out = frame.copy()
    for column, dtype in schema.items():
        if column not in out:
            out[column] = pd.Series(pd.NA if dtype in ("string", "Int64") else np.nan, index=out.index, dtype=dtype)
        else:
            out[column] = out[column].astype(dtype)
    return out[list(schema) + [c for c in out.columns if c not in schema]].reset_index(drop=True)


def _share(experiments: pd.DataFrame, experiment_id: str, arm: str) -> float:
    row = experiments[(experiments["experiment_id"] == experiment_id) & (experiments["arm"] == arm)]
    return float(row["expected_share"].iloc[0]) if len(row) else float("nan")


def comparison_units(units, plan: ComparisonPlan, seed: int):
    """The comparison's rows of int_hte_model_units (both arms), as a relation: every unit, or the seeded hash
    sample of whole clusters the plan reads (``plan.sample_fraction``), filtered where the warehouse holds them."""
    rows = io.filtered(units, experiment_id=plan.experiment_id, metric=plan.metric, arm=[plan.arm, plan.control_arm])
    return rows if plan.sample_fraction >= 1 else io.hash_sampled(rows, plan.sample_fraction, seed)


def _comparison_rows(
    units,
    features,
    assignments,
    feature_columns: tuple[str, ...],
    per_experiment: bool,
    plan: ComparisonPlan,
    seed: int,
) -> pd.DataFrame:
    """One comparison's unit rows joined to their features and received propensity, joined in the warehouse and
    read with only the columns the learners use: the only unit-level read of an uplift model."""
    experiment_id = plan.experiment_id
    rows = select_columns(comparison_units(units, plan, seed), ["unit_id", "arm", "y", "cluster_id"])
    # Staging guarantees experiment_id is on every feature row or on none: per-experiment snapshots, or one
    # snapshot per unit that applies to every experiment.
    feats = io.filtered(features, experiment_id=experiment_id) if per_experiment else features
    rows = io.left_join(rows, select_columns(feats, ["unit_id", *feature_columns]), ["unit_id"])
    received = select_columns(io.filtered(assignments, experiment_id=experiment_id), ["unit_id", "propensity"])
    rows = io.left_join(rows, received, ["unit_id"])
    frame = to_pandas(
        select_columns(rows, ["unit_id", "arm", "y", "cluster_id", *feature_columns, "propensity"]), compact=True
    )
    # Row order must not depend on the warehouse's join strategy: folds, samples and ties follow it.
    return frame.sort_values("unit_id", kind="stable", ignore_index=True)


def plan_comparisons(units, features, assignments, experiments, settings: UpliftSettings) -> list[ComparisonPlan]:
    """Every experiment x metric x treatment arm, with its status; ok comparisons carry their unit rows. Holds
    every comparison's rows at once: for small inputs and tests; the models iterate ``iter_comparisons``."""
    return list(iter_comparisons(units, features, assignments, experiments, settings))


def comparison_bytes_per_unit(settings: UpliftSettings, model: str = "hte_cate_scores") -> float:
    """Estimated peak bytes per unit while ``model`` works on a comparison: its rows (id, arm, outcome, features),
    the learners' design matrix, and one score column per learner beside the nuisances. Calibrated on
    bench/bench_build.py (README, "Memory"); training rows are bounded separately by hte_uplift_max_train_rows.
    Two models hold more: the evaluation a score column per learner and one learner's sorted curves at a time
    (measured on a 6 M-unit comparison with 5 learners: about 4 GiB besides DuckDB's cache, 700 B a unit), and the
    honest tree its encoded features (on the units it reads: at most hte_uplift_discovery_max_units)."""
    n_learners = len(settings.crossfit.learners)
    per_learner, fixed = HOLDS_MORE_PER_UNIT.get(model, (0.0, 0.0))
    return 8.0 * (24 + 3 * len(settings.feature_columns) + 2 * n_learners) + per_learner * n_learners + fixed


# Bytes a unit beyond the fit's, per model (see comparison_bytes_per_unit): (per learner, fixed).
HOLDS_MORE_PER_UNIT = {
    "int_hte_uplift_evaluation": (50.0, 0.0),  # one score column per learner, one learner's sorted arrays at a time
    "hte_discovered_segments": (0.0, 1000.0),  # the honest tree, on at most hte_uplift_discovery_max_units units
}


MEMORY_ADVICE = (
    "Raise the var on a machine that has the memory, run `dbt build --threads 1` (one Python model at a "
    "time) with the var at half the memory, or split the experiment's units into smaller experiments."
)


def iter_comparisons(
    units,
    features,
    assignments,
    experiments,
    settings: UpliftSettings,
    model: str = "uplift",
    max_units: int | None = None,
) -> Iterator[ComparisonPlan]:
    """Every experiment x metric x treatment arm with its status, one at a time; an ok comparison carries its
    unit rows, read from the warehouse when it is reached, so a caller that handles one comparison before asking
    for the next holds one comparison's rows at a time (issue: memory bounded by design, not by the data).

    Each argument is a pandas frame or a warehouse relation (``hte_engine.io``): ``units`` int_hte_units,
    ``features`` stg_hte_unit_features, ``assignments`` stg_hte_assignments, ``experiments``
    stg_hte_experiments. Sizes come from counts made in the warehouse, so a comparison that cannot be run is
    decided without reading its rows, and one too large for the memory budget is refused before it is read
    (``hte_engine.io.check_memory``; ``model`` names the dbt model in that message). With ``max_units``, a
    comparison with more units is read as a seeded hash sample of whole clusters of about that many units
    (``comparison_units``; ``plan.sample_fraction``), decided by the warehouse's counts before any row is read."""
    missing = [c for c in settings.feature_columns if c not in list(features.columns)]
    if missing:
        raise ValueError(
            f"dbt_hte uplift: feature columns {missing} listed in var hte_feature_columns are not columns of "
            "hte_unit_features; add them there or remove them from the var."
        )
    experiments = to_pandas(experiments)
    counts = io.group_counts(units, ["experiment_id", "metric", "arm"], metric=list(settings.metrics))
    per_experiment = io.has_values(features, "experiment_id")
    if per_experiment and io.any_rows(features, experiment_id=None):
        # stg_hte_unit_features refuses this mix; said again here for callers that bypass staging.
        raise ValueError(
            "dbt_hte uplift: hte_unit_features has rows with and rows without an experiment_id; fill "
            "experiment_id on every row, or drop the column so that each unit's features apply to "
            "every experiment."
        )
    minimum = max(settings.min_units_per_arm, settings.crossfit.folds)
    for experiment_id, declared in experiments.groupby("experiment_id", sort=True):
        control = declared.loc[declared["is_control"].astype(bool), "arm"]
        if control.empty:
            continue
        control_arm = str(control.iloc[0])
        exp_counts = counts[counts["experiment_id"].astype(str) == str(experiment_id)]
        for arm in sorted(declared.loc[~declared["is_control"].astype(bool), "arm"].astype(str)):
            for metric in sorted(exp_counts["metric"].astype(str).unique()):
                of_metric = exp_counts[exp_counts["metric"].astype(str) == metric]
                n_t = int(of_metric.loc[of_metric["arm"].astype(str) == arm, "n"].sum())
                n_c = int(of_metric.loc[of_metric["arm"].astype(str) == control_arm, "n"].sum())
                plan = ComparisonPlan(
                    experiment_id=str(experiment_id),
                    metric=str(metric),
                    arm=arm,
                    control_arm=control_arm,
                    binary=settings.metrics.get(metric) == "binary",
                    n_treatment=n_t,
                    n_control=n_c,
                    share_treatment=_share(declared, experiment_id, arm),
                    share_control=_share(declared, experiment_id, control_arm),
                    n_arms=len(declared),
                )
                if n_t == 0 or n_c == 0:
                    plan.status = "single_arm"
                    plan.reason = (
                        f"{plan.label}: {'arm ' + repr(arm) if n_t == 0 else 'control ' + repr(control_arm)}"
                        " has no units; an effect needs units in both arms."
                    )
                elif min(n_t, n_c) < minimum:
                    plan.status = "too_few_units"
                    plan.reason = (
                        f"{plan.label}: {n_t} treated and {n_c} control units; uplift learners need at "
                        f"least {minimum} per arm (var hte_uplift_min_units_per_arm, and one per fold)."
                    )
                else:
                    if max_units is not None and n_t + n_c > max_units:
                        plan.sample_fraction = max_units / (n_t + n_c)
                    io.check_memory(
                        model,
                        plan.label,
                        round((n_t + n_c) * plan.sample_fraction),
                        comparison_bytes_per_unit(settings, model),
                        settings.memory_budget,
                        MEMORY_ADVICE,
                    )
                    frame = _comparison_rows(
                        units,
                        features,
                        assignments,
                        settings.feature_columns,
                        per_experiment,
                        plan,
                        settings.crossfit.seed,
                    )
                    _check_rows(plan, frame, settings)
                yield plan


def _check_rows(plan: ComparisonPlan, frame: pd.DataFrame, settings: UpliftSettings) -> None:
    """The decisions that need the comparison's rows: an outcome that varies, enough clusters per arm for the
    folds, usable features, no feature that leaks the treatment. Sets ``plan.units`` when the plan is ok."""
    y = frame["y"].to_numpy(dtype=float)
    if np.all(y == y[0]):
        plan.status = "constant_outcome"
        plan.reason = (
            f"{plan.label}: every unit has the same outcome ({y[0]:g}); there is no effect "
            "to model, let alone a heterogeneous one."
        )
        return
    if frame["cluster_id"].notna().any():
        keys = resampling_keys(frame["unit_id"], frame["cluster_id"])
        per_arm = clusters_per_arm((frame["arm"] == plan.arm).to_numpy(), keys)
        c_t, c_c = per_arm.get(True, 0), per_arm.get(False, 0)
        if min(c_t, c_c) < settings.crossfit.folds:
            plan.status = "too_few_clusters"
            plan.reason = (
                f"{plan.label}: the units come from {c_t} treated and {c_c} control clusters "
                "(cluster_id, or the unit where it is null); folds keep clusters whole, so "
                f"each arm needs at least {settings.crossfit.folds} clusters, one per fold. "
                "Lower var hte_uplift_folds, or leave cluster_id null if the units are in "
                "fact independent."
            )
            return
    frame["treated"] = (frame["arm"] == plan.arm).astype(int)
    # The demo's (and many users') wide feature tables leave other experiments' columns empty.
    usable = [c for c in settings.feature_columns if frame[c].notna().any()]
    if not usable:
        plan.status = "no_features"
        plan.reason = (
            f"{plan.label}: none of the feature columns in var hte_feature_columns has a "
            "value for this experiment's units."
        )
        return
    refused: list[str] = []
    if plan.experiment_id not in settings.observational:
        # Imbalance is expected by design in observational data; the classifier's overlap report
        # takes the place of the balance test there.
        refused, _ = leaking_features(frame[usable], frame["treated"], settings.check_alert_p)
    plan.features_refused = refused
    plan.features_used = [c for c in usable if c not in refused]
    if not plan.features_used:
        plan.status = "leaking_features"
        plan.reason = (
            f"{plan.label}: every feature fails its balance test between the arms "
            f"({', '.join(refused)}), so each was changed by the treatment; use "
            "pre-treatment features only."
        )
        return
    if refused:
        plan.reason = (
            f"Features {refused} were refused: their balance test between the arms fails "
            f"(p < {settings.check_alert_p:g} / {len(usable)} features), so they were changed "
            "by the treatment or leak the outcome; the learners use the others."
        )
    plan.units = frame


def _noop(message: str) -> None:
    return None


# Rows per Arrow batch of hte_cate_scores: one learner's scores of one comparison are written in slices of this
# size, so the frames built for the writer stay small whatever the number of units.
SCORE_BATCH_ROWS = 500_000


def comparison_propensity(plan: ComparisonPlan, frame: pd.DataFrame, X: pd.DataFrame, settings: UpliftSettings, keys):
    """The propensity of every unit of ``frame`` (the comparison's units, in any order; ``X`` their features,
    ``keys`` their cluster keys): the one call hte_cate_scores and the model deployed from its scores both make."""
    received = frame["propensity"].to_numpy(dtype=float, na_value=np.nan)
    config = settings.crossfit
    return choose_propensity(
        label=plan.label,
        treated=frame["treated"],
        n_arms=plan.n_arms,
        share_treatment=plan.share_treatment,
        share_control=plan.share_control,
        received=received if np.isfinite(received).all() else None,
        observational=plan.experiment_id in settings.observational,
        X=X,
        unit_id=frame["unit_id"],
        folds=config.folds,
        seed=config.seed,
        trim=settings.propensity_trim,
        base_model=config.base_model,
        threads=config.threads,
        cluster=keys,
    )


def score_comparison(plan: ComparisonPlan, settings: UpliftSettings, log: Log = _noop) -> Iterator[pd.DataFrame]:
    """One ok comparison's out-of-fold scores, learner by learner in slices of ``SCORE_BATCH_ROWS`` rows, with
    the nuisances on every row (hte_cate_scores' columns)."""
    frame = plan.units
    X = prepare_features(frame, plan.features_used, plan.experiment_id)
    config = settings.crossfit
    keys = plan.cluster_keys()
    prop = comparison_propensity(plan, frame, X, settings, keys)
    keep = prop.keep
    result = cross_fit(
        frame.loc[keep, "unit_id"],
        X.loc[keep],
        frame.loc[keep, "y"],
        frame.loc[keep, "treated"],
        prop.value[keep],
        plan.binary,
        config,
        plan.label,
        log=log,
        cluster=None if keys is None else keys[keep],
    )
    del X
    units = result.units
    n_train_rows = units["fold"].map(result.n_train_rows).to_numpy(dtype="int64")
    for learner in result.learners:
        for start in range(0, len(units), SCORE_BATCH_ROWS):
            rows = slice(start, start + SCORE_BATCH_ROWS)
            yield pd.DataFrame(
                {
                    **plan.keys(),
                    "learner": learner,
                    "unit_id": units["unit_id"].to_numpy()[rows],
                    "cate": units[f"cate_{learner}"].to_numpy()[rows],
                    "fold": units["fold"].to_numpy()[rows],
                    "n_train_rows": n_train_rows[rows],
                    "treated": units["treated"].to_numpy()[rows],
                    "propensity": units["propensity"].to_numpy()[rows],
                    "propensity_source": prop.source,
                    "mu0": units["mu0"].to_numpy()[rows],
                    "mu1": units["mu1"].to_numpy()[rows],
                    "dr_score": units["dr_score"].to_numpy()[rows],
                }
            )


def iter_cate_scores(
    units, features, assignments, experiments, settings: UpliftSettings, log: Log = _noop
) -> Iterator[pd.DataFrame]:
    """hte_cate_scores' rows, one comparison at a time: a comparison is read, fitted, scored and released before
    the next is read."""
    for plan in iter_comparisons(units, features, assignments, experiments, settings, model="hte_cate_scores"):
        if plan.status != STATUS_OK:
            log(f"uplift: {plan.label}: skipped ({plan.status})")
            continue
        log(
            f"uplift: {plan.label}: cross-fitting {len(settings.crossfit.learners)} learners on "
            f"{plan.n_treatment + plan.n_control} units"
        )
        yield from score_comparison(plan, settings, log)


def cate_scores(units, features, assignments, experiments, settings: UpliftSettings, log: Log = _noop, session=None):
    """hte_cate_scores: every ok comparison's out-of-fold scores (experiment x metric x arm x learner x unit).

    With a DuckDB ``session`` (the dbt model's), an Arrow stream the warehouse writes while the next comparison
    is fitted; otherwise one pandas frame."""
    return io.stream_table(
        iter_cate_scores(units, features, assignments, experiments, settings, log), SCORE_COLUMNS, session, typed=_typed
    )


# The hte_cate_scores columns that are the same on every learner's row of a unit: the fold and the nuisances.
UNIT_SCORE_COLUMNS = [
    "unit_id",
    "fold",
    "n_train_rows",
    "treated",
    "propensity",
    "propensity_source",
    "mu0",
    "mu1",
    "dr_score",
]


def result_from_scores(scores, outcomes: pd.DataFrame, **keys) -> CrossFitResult | None:
    """Rebuild one comparison's cross-fit result from its hte_cate_scores rows (``keys`` pick the comparison from a
    table of several) and the unit outcomes; None when it has no rows. The rows are read one learner at a time,
    the units' nuisances from the first learner's rows and then each learner's (unit_id, cate): the long table of
    every learner's rows is never held or pivoted (30 M rows for a 6 M-unit comparison with 5 learners)."""
    present = io.group_counts(scores, ["learner"], **keys)
    if present.empty:
        return None
    names = set(present["learner"].astype(str))
    learners = tuple(name for name in LEARNERS if name in names) + tuple(sorted(names - set(LEARNERS)))
    first = io.fetch(scores, UNIT_SCORE_COLUMNS, compact=True, **keys, learner=learners[0])
    units = first.sort_values("unit_id", kind="stable", ignore_index=True).merge(
        outcomes[["unit_id", "y"]], on="unit_id", how="left"
    )
    unit_ids = units["unit_id"].to_numpy()
    for learner in learners:
        cate = io.fetch(scores, ["unit_id", "cate"], compact=True, **keys, learner=learner)
        cate = cate.sort_values("unit_id", kind="stable", ignore_index=True)
        # Every learner scores the same units: in unit-id order they line up with the units, which a sort and one
        # comparison confirm at a third of the cost of a lookup by id (the lookup remains for any other case).
        aligned = len(cate) == len(unit_ids) and bool((cate["unit_id"].to_numpy() == unit_ids).all())
        units[f"cate_{learner}"] = (
            cate["cate"].to_numpy(dtype=float)
            if aligned
            else units["unit_id"].map(cate.set_index("unit_id")["cate"]).to_numpy(dtype=float)
        )
    n_train = units.groupby("fold")["n_train_rows"].first().astype(int).to_dict()
    units = units.drop(columns="n_train_rows").astype({"unit_id": object, "fold": "int64", "treated": "int64"})
    return CrossFitResult(units=units, learners=learners, n_train_rows=n_train)


def _run_summary(plan: ComparisonPlan, scored: CrossFitResult | None) -> dict:
    out = {**plan.keys(), **plan.run_columns()}
    if scored is not None:
        out["propensity_source"] = scored.units["propensity_source"].iloc[0]
        out["n_trimmed"] = plan.n_treatment + plan.n_control - len(scored.units)
    return out


def evaluation_tables(
    scores,
    units,
    features,
    assignments,
    experiments,
    settings: UpliftSettings,
    parts: tuple[str, ...] = PARTS,
    cluster: bool = True,
    log: Log = _noop,
) -> dict[str, pd.DataFrame]:
    """hte_learner_evaluation ('learners'), hte_uplift_curves ('curves') and hte_uplift_deciles ('deciles'),
    from the stored scores. A comparison that could not be scored gets one 'learners' row with its status."""
    tables = {part: [] for part in PARTS}
    for plan in iter_comparisons(
        units, features, assignments, experiments, settings, model="int_hte_uplift_evaluation"
    ):
        result = result_from_scores(scores, plan.units, **plan.keys()) if plan.status == STATUS_OK else None
        summary = _run_summary(plan, result)
        if plan.status != STATUS_OK or result is None:
            if plan.status == STATUS_OK:
                summary.update(
                    status="not_scored",
                    reason=f"{plan.label}: hte_cate_scores has no rows for it; rebuild hte_cate_scores.",
                )
            tables["learners"].append(pd.DataFrame([summary]))
            continue
        log(f"uplift: {plan.label}: evaluating {len(result.learners)} learners on {len(result.units):,} units")
        clusters = None
        if cluster and plan.units["cluster_id"].notna().any():
            clusters = result.units["unit_id"].map(plan.units.set_index("unit_id")["cluster_id"])
        plan.units = None  # the outcomes now live in the result: release the features before evaluating
        ev = evaluate_learners(result, settings.evaluation, binary=plan.binary, cluster=clusters, parts=parts)
        learners = ev.learners.assign(**summary)
        tables["learners"].append(learners)
        for name in ("curves", "deciles"):
            table = getattr(ev, name)
            if len(table):
                table = table.assign(**plan.keys())
                table["is_chosen"] = table["learner"] == ev.chosen
                tables[name].append(table)
    out = {}
    for name, frames in tables.items():
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        out[name] = _order(frame, name, settings.evaluation)
    return out


def _learner_columns(config: EvaluationConfig) -> dict:
    """hte_learner_evaluation's columns: the same whatever the data, so that a build in which no comparison could
    be scored (every outcome equal, tiny arms) still has every figure's column, null."""
    lead = {k: "string" for k in KEYS + ["learner"]}
    figures = {}
    for name in ("qini_coefficient", "auuc", "autoc", "rate_qini"):
        figures.update(
            {name: "float64", f"{name}_se": "float64", f"{name}_ci_low": "float64", f"{name}_ci_high": "float64"}
        )
    for fraction in config.uplift_at:
        label = f"uplift_at_{int(round(fraction * 100))}"
        figures.update({label: "float64", f"{label}_ci_low": "float64", f"{label}_ci_high": "float64"})
    return {
        **lead, **RUN_COLUMNS, "n_units": "Int64", "n_treatment": "Int64", "n_control": "Int64",
        "n_clusters": "Int64", "n_train_rows": "Int64", "mean_cate": "float64", "sd_cate": "float64",
        "share_negative_cate": "float64", "bootstrap_units": "Int64", **figures,
        "blp_mean_prediction": "float64", "blp_mean_prediction_se": "float64", "blp_heterogeneity": "float64",
        "blp_heterogeneity_se": "float64", "blp_heterogeneity_p_value": "float64", "dr_loss": "float64",
        "dr_loss_vs_constant": "float64", "dr_loss_vs_constant_se": "float64", "is_chosen": "boolean",
        "heterogeneity_detected": "boolean", "choice_reason": "string",
    }  # fmt: skip


CURVE_COLUMNS = {
    **{k: "string" for k in KEYS + ["learner"]}, "is_chosen": "boolean", "curve": "string", "point": "Int64",
    "fraction_targeted": "float64", "value": "float64", "value_ci_low": "float64", "value_ci_high": "float64",
    "bootstrap_units": "Int64",
}  # fmt: skip
DECILE_COLUMNS = {
    **{k: "string" for k in KEYS + ["learner"]}, "is_chosen": "boolean", "decile": "Int64", "status": "string",
    "n_units": "Int64", "n_treatment": "Int64", "n_control": "Int64", "mean_predicted": "float64",
    "observed_lift": "float64", "observed_lift_se": "float64", "observed_lift_ci_low": "float64",
    "observed_lift_ci_high": "float64", "dr_lift": "float64", "dr_lift_se": "float64", "dr_lift_ci_low": "float64",
    "dr_lift_ci_high": "float64",
}  # fmt: skip


def evaluation_schemas(config: EvaluationConfig = EvaluationConfig()) -> dict[str, dict]:
    """Columns of each evaluation part: hte_learner_evaluation, hte_uplift_curves, hte_uplift_deciles."""
    return {"learners": _learner_columns(config), "curves": CURVE_COLUMNS, "deciles": DECILE_COLUMNS}


def _order(frame: pd.DataFrame, name: str, config: EvaluationConfig = EvaluationConfig()) -> pd.DataFrame:
    schema = evaluation_schemas(config)[name]
    return _typed(frame, schema)[list(schema)]


def uplift_evaluation_table(
    scores, units, features, assignments, experiments, settings: UpliftSettings, log: Log = _noop
) -> pd.DataFrame:
    """int_hte_uplift_evaluation: the three evaluation parts of every comparison from one pass (one bootstrap
    whose replicates give the coefficients, their intervals and the curves' bands; the deciles on the same
    scores), stacked with a ``part`` column. hte_learner_evaluation, hte_uplift_curves and hte_uplift_deciles
    select their rows and documented columns from it, so the costliest figures are computed once, not three times."""
    tables = evaluation_tables(scores, units, features, assignments, experiments, settings, log=log)
    schemas = evaluation_schemas(settings.evaluation)
    union = {"part": "string"}
    for schema in schemas.values():
        union.update({c: t for c, t in schema.items() if c not in union})
    frames = [_typed(tables[name].assign(part=name), union) for name in PARTS]
    return pd.concat(frames, ignore_index=True)[list(union)]


def _sampled_scores(
    scores, units, plan: ComparisonPlan, learner: str, seed: int, columns: list[str]
) -> pd.DataFrame | None:
    """unit_id and ``columns`` of ``learner``'s hte_cate_scores rows for the plan's units (all, or its hash
    sample), joined in the warehouse, so a sample's scores are read without reading every unit's; None when
    none was scored."""
    sampled = select_columns(comparison_units(units, plan, seed), ["unit_id"])
    scored = select_columns(io.filtered(scores, **plan.keys(), learner=learner), ["unit_id", *columns])
    part = to_pandas(io.left_join(sampled, scored, ["unit_id"]), compact=True)
    part = part[part[columns[0]].notna()]  # units trimmed for their propensity have no scores
    return part.reset_index(drop=True) if len(part) else None


def _discovery_comparisons(
    units, features, assignments, experiments, settings: UpliftSettings, model: str
) -> Iterator[ComparisonPlan]:
    """The comparisons as hte_discovered_segments and hte_effect_drivers read them: at most
    hte_uplift_discovery_max_units units of a comparison, the same seeded hash sample of whole clusters for both,
    from which each model draws any smaller sample of its own. Reading every unit for hte_effect_drivers'
    20,000-unit sample held a 6 M-unit comparison whole beside int_hte_targeting (13.6 GiB at 10 M units)."""
    return iter_comparisons(
        units, features, assignments, experiments, settings, model=model, max_units=settings.discovery_max_units
    )


DISCOVERED_SEGMENT_COLUMNS = {
    "experiment_id": "string", "metric": "string", "arm": "string", "control_arm": "string", "rule": "string",
    "leaf": "Int64", "n_grow": "Int64", "n_units": "Int64", "n_treatment": "Int64", "n_control": "Int64",
    "effect": "float64", "effect_se": "float64", "effect_ci_low": "float64", "effect_ci_high": "float64",
    "p_value": "float64", "p_value_adj": "float64", "status": "string", "reason": "string",
    "n_comparison_units": "Int64", "n_sample_units": "Int64",
}  # fmt: skip


def discovered_segments(
    scores, units, features, assignments, experiments, settings: UpliftSettings, log: Log = _noop
) -> pd.DataFrame:
    """hte_discovered_segments: an honest shallow tree on each scored comparison's doubly-robust scores.

    A comparison of more than ``settings.discovery_max_units`` units is grown and estimated on a seeded hash
    sample of about that many (whole clusters), read from the warehouse as such: both halves of an honest tree
    come from the sample, so its leaves stay honest and their intervals cover the leaves' effects in the whole
    comparison (tests/unit/test_uplift_discovery.py), only wider, and the memory is bounded whatever the units."""
    frames = []
    # The nuisances are the same on every learner's row of a unit: one learner's rows carry them all.
    learner = settings.crossfit.learners[0]
    seed = settings.crossfit.seed
    for plan in _discovery_comparisons(units, features, assignments, experiments, settings, "hte_discovered_segments"):
        part = (
            _sampled_scores(scores, units, plan, learner, seed, ["dr_score", "treated"])
            if plan.status == STATUS_OK
            else None
        )
        if plan.status != STATUS_OK or part is None:
            # An ok plan's reason only lists refused features; a not_scored row says why it has no leaves.
            reason = (
                plan.reason
                if plan.status != STATUS_OK
                else (f"{plan.label}: hte_cate_scores has no rows for it; rebuild hte_cate_scores.")
            )
            frames.append(
                pd.DataFrame(
                    [
                        {
                            **plan.keys(),
                            "status": plan.status if plan.status != STATUS_OK else "not_scored",
                            "reason": reason,
                        }
                    ]
                )
            )
            continue
        sampled = (
            ""
            if plan.sample_fraction >= 1
            else (
                f" (a seeded hash sample of the comparison's {plan.n_treatment + plan.n_control:,}; var "
                "hte_uplift_discovery_max_units)"
            )
        )
        log(f"uplift: {plan.label}: growing an honest tree on {len(part):,} units{sampled}")
        unit_rows = part.astype({"treated": "int64"}).sort_values("unit_id", kind="stable")
        frame = unit_rows.merge(plan.units, on=["unit_id", "treated"])
        cluster = plan.cluster_keys(frame)
        plan.units = None  # the features now live in frame: release the plan's copy before the tree is grown
        X = prepare_features(frame, plan.features_used, plan.experiment_id)
        table = discover_segments(
            X,
            frame["dr_score"],
            frame["treated"],
            max_depth=settings.tree_max_depth,
            min_leaf_size=settings.min_leaf_size,
            seed=seed,
            alpha=settings.evaluation.alpha,
            p_adjust=settings.p_adjust,
            cluster=cluster,
        )
        frames.append(
            table.assign(
                **plan.keys(),
                reason=None,
                n_comparison_units=plan.n_treatment + plan.n_control,
                n_sample_units=len(frame),
            )
        )
    return _typed(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), DISCOVERED_SEGMENT_COLUMNS)


def effect_drivers_table(
    scores, evaluation, units, features, assignments, experiments, settings: UpliftSettings, log: Log = _noop
) -> pd.DataFrame:
    """hte_effect_drivers: permutation importance of each feature for the chosen learner's scores. A comparison
    whose chosen learner is the constant has no effect variation to explain and gets one status row."""
    evaluation = io.fetch(evaluation, KEYS + ["learner", "is_chosen"])
    chosen = {}
    if len(evaluation):
        picked = evaluation[evaluation["is_chosen"].fillna(False).astype(bool)]
        chosen = {tuple(r[k] for k in KEYS): r["learner"] for _, r in picked.iterrows()}
    frames = []
    for plan in _discovery_comparisons(units, features, assignments, experiments, settings, "hte_effect_drivers"):
        key = (plan.experiment_id, plan.metric, plan.arm, plan.control_arm)
        learner = chosen.get(key)
        part = (
            _sampled_scores(scores, units, plan, learner, settings.crossfit.seed, ["cate"])
            if plan.status == STATUS_OK and learner not in (None, "constant")
            else None
        )
        if plan.status != STATUS_OK or part is None:
            status = (
                plan.status
                if plan.status != STATUS_OK
                else ("no_heterogeneity" if learner == "constant" else "not_scored")
            )
            # Only a comparison that was not run explains itself with the plan's reason: an ok plan's reason
            # lists refused features, which is not why this row has no importances.
            if plan.status != STATUS_OK:
                reason = plan.reason
            elif status == "no_heterogeneity":
                reason = (
                    f"{plan.label}: no heterogeneity detected (the chosen learner is the constant average "
                    "effect), so there is no variation in effects for a feature to drive."
                )
            else:
                reason = f"{plan.label}: hte_cate_scores or hte_learner_evaluation has no rows for it."
            frames.append(pd.DataFrame([{**plan.keys(), "learner": learner, "status": status, "reason": reason}]))
            continue
        log(f"uplift: {plan.label}: permutation importance of {len(plan.features_used)} features")
        frame = part.sort_values("unit_id", kind="stable").merge(plan.units, on="unit_id")
        X = prepare_features(frame, plan.features_used, plan.experiment_id)
        # The surrogate is fitted and permuted on a bounded, seeded hash sample of whole clusters: importances
        # describe how the scores vary with the features, a question a sample of 20,000 units answers to within
        # a few thousandths of R^2 (tests/unit/test_uplift_discovery.py), at a fixed cost whatever the units.
        keep = bounded_sample(
            plan.cluster_keys(frame) if plan.cluster_keys(frame) is not None else frame["unit_id"],
            settings.driver_max_units,
            settings.crossfit.seed,
        )
        table = effect_drivers(X.loc[keep], frame.loc[keep, "cate"], seed=settings.crossfit.seed)
        table["n_units"] = int(keep.sum())
        table["rank"] = np.arange(1, len(table) + 1)
        frames.append(table.assign(**plan.keys(), learner=learner, status=STATUS_OK, reason=None))
    schema = {
        "experiment_id": "string",
        "metric": "string",
        "arm": "string",
        "control_arm": "string",
        "learner": "string",
        "feature": "string",
        "rank": "Int64",
        "importance": "float64",
        "importance_sd": "float64",
        "status": "string",
        "reason": "string",
        "n_units": "Int64",
    }
    return _typed(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(), schema)
