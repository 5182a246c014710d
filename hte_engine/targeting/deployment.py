"""Deployment models: the chosen learner of each experiment x metric x treatment arm, refitted on all of the
experiment's units, to score units that were never in the experiment (issue 15).

The out-of-fold scores of ``hte_cate_scores`` stay the evaluation: every unit of the experiment is scored there by
a model that never saw it. A population outside the experiment needs the opposite, one model trained on every unit
the experiment has, so this module fits the learner ``hte_learner_evaluation`` chose with exactly the definition,
settings and seed cross-fitting used (``crossfit._cross_fit``: the same stratified bound on training rows, the same
winsorising and level shift of continuous outcomes, the same base model and seed), on all units instead of K - 1
folds.

Each fit becomes a row of ``hte_deployment_runs`` with what makes a decision traceable to the model that made it:
the run date, the learner, the training rows, a fingerprint of the training data (a SHA-256 of the sorted unit ids,
arms and outcomes), the engine's version, the settings, the support of every feature (the range or the levels the
model saw) and the fitted model itself, serialised. ``hte_population_targeting`` scores with those stored models, so
the table it reads is the model that decided, and nothing is fitted twice.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from hte_engine import io
from hte_engine.uplift.crossfit import assign_folds, winsorise
from hte_engine.uplift.features import OTHER_LEVEL, prepare_features
from hte_engine.uplift.learners import BaseModel, OutcomeModels, TrainingSample, hajek_effect, make_learner
from hte_engine.uplift.tables import STATUS_OK, ComparisonPlan, UpliftSettings, comparison_propensity, iter_comparisons

RUN_COLUMNS = {
    "run_date": "string", "experiment_id": "string", "metric": "string", "arm": "string", "control_arm": "string",
    "learner": "string", "status": "string", "reason": "string", "n_training_rows": "Int64",
    "n_treatment": "Int64", "n_control": "Int64", "n_trimmed": "Int64", "propensity_source": "string",
    "features_used": "string", "training_fingerprint": "string", "package_version": "string",
    "sklearn_version": "string", "seed": "Int64", "settings": "string", "feature_support": "string",
    "level_shift": "float64", "mean_training_effect": "float64", "model_sha256": "string", "model_blob": "string",
}  # fmt: skip

# Learners whose fit uses the two outcome models mu_0, mu_1 (crossfit passes them to every learner; the others
# ignore them, so fitting them for S, DR or the constant would only cost time).
_USES_OUTCOME_MODELS = ("t", "x")


def package_version() -> str:
    """The installed engine's version (what pip installed), else the source tree's ``__version__``."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("dbt-hte-engine")
        except PackageNotFoundError:
            pass
    except ImportError:  # pragma: no cover - Python < 3.8
        pass
    from hte_engine import __version__

    return __version__


def training_fingerprint(unit_id, treated, y) -> str:
    """SHA-256 of the training data as text, one line per unit in unit-id order: 'unit_id<TAB>treated<TAB>y'.
    Text rather than pandas' object hash, which may change between pandas versions: the same training data gives
    the same fingerprint on any machine, and a different one as soon as a unit, an arm or an outcome changes."""
    frame = pd.DataFrame(
        {
            "u": pd.Series(unit_id).astype(str).to_numpy(dtype=object),
            "t": np.asarray(treated).astype(int),
            "y": np.asarray(y, dtype=float),
        }
    )
    frame = frame.sort_values("u", kind="stable")
    digest = hashlib.sha256()
    step = 200_000
    for start in range(0, len(frame), step):
        part = frame.iloc[start : start + step]
        lines = (
            part["u"]
            + "\t"
            + part["t"].astype(str)
            + "\t"
            + pd.Series(np.char.mod("%.17g", part["y"].to_numpy()), index=part.index)
            + "\n"
        )
        digest.update("".join(lines.tolist()).encode("utf-8"))
    return digest.hexdigest()


@dataclass
class FeatureSupport:
    """What the deployed model saw of one feature: numeric range or categorical levels, and whether any value was
    missing. A population value outside it is extrapolation, which the targeting flags instead of scoring."""

    name: str
    kind: str  # 'numeric' or 'categorical'
    low: float | None = None
    high: float | None = None
    levels: list[str] = field(default_factory=list)
    # Raw levels folded into '(other)' when the training data had more than the base model's bin limit.
    folded: list[str] = field(default_factory=list)
    has_missing: bool = False

    def as_dict(self) -> dict:
        out = {"kind": self.kind, "has_missing": self.has_missing}
        if self.kind == "numeric":
            out.update(low=self.low, high=self.high)
        else:
            out.update(levels=self.levels, n_folded=len(self.folded))
        return out


@dataclass
class Deployment:
    """One fitted deployment model: predicts the effect of ``arm`` against ``control_arm`` on ``metric``."""

    experiment_id: str
    metric: str
    arm: str
    control_arm: str
    learner_name: str
    learner: object
    level_shift: float
    features: list[str]
    support: dict[str, FeatureSupport]

    def design_matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The learners' feature matrix for new units, coded exactly as in training: numeric columns as floats,
        categorical ones with the training levels (a level the model never saw becomes missing here; the
        targeting flags such units as outside the support before it uses their score)."""
        out = {}
        for name in self.features:
            spec = self.support[name]
            values = frame[name]
            if spec.kind == "numeric":
                out[name] = pd.to_numeric(values, errors="coerce").astype(float)
            else:
                text = values.astype("string")
                if spec.folded:
                    text = text.where(~text.isin(spec.folded), OTHER_LEVEL)
                out[name] = pd.Categorical(text.to_numpy(dtype=object, na_value=None), categories=spec.levels)
        return pd.DataFrame(out, index=frame.index)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        # Propensity None: the X-learner blends its two effect models with the training share, the same weight
        # cross-fitting gives a unit of a randomised experiment.
        return (
            np.asarray(self.learner.predict(self.design_matrix(frame), propensity=None), dtype=float) + self.level_shift
        )


def feature_support(frame: pd.DataFrame, X: pd.DataFrame, features: list[str]) -> dict[str, FeatureSupport]:
    support = {}
    for name in features:
        if isinstance(X[name].dtype, pd.CategoricalDtype):
            raw = frame[name].astype("string")
            levels = [str(v) for v in X[name].cat.categories]
            folded = sorted(set(raw.dropna().tolist()) - set(levels)) if OTHER_LEVEL in levels else []
            support[name] = FeatureSupport(
                name, "categorical", levels=levels, folded=folded, has_missing=bool(raw.isna().any())
            )
        else:
            values = X[name].to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            support[name] = FeatureSupport(
                name,
                "numeric",
                low=float(finite.min()) if finite.size else None,
                high=float(finite.max()) if finite.size else None,
                has_missing=bool((~np.isfinite(values)).any()),
            )
    return support


@dataclass
class FitResult:
    deployment: Deployment
    n_training_rows: int
    n_trimmed: int
    propensity_source: str
    fingerprint: str
    mean_training_effect: float


def fit_deployment(plan: ComparisonPlan, learner_name: str, settings: UpliftSettings) -> FitResult:
    """Fit ``learner_name`` on all units of an ok comparison, as ``crossfit`` fits it on the training folds."""
    frame = plan.units.sort_values("unit_id", kind="stable", ignore_index=True)
    config = settings.crossfit
    X = prepare_features(frame, plan.features_used, plan.experiment_id)
    keys = plan.cluster_keys(frame)
    prop = comparison_propensity(plan, frame, X, settings, keys)
    keep = prop.keep
    # Units trimmed for overlap have no score in hte_cate_scores; they do not train the deployed model either.
    unit_id = frame.loc[keep, "unit_id"].astype(str).to_numpy(dtype=object)
    Xk = X.loc[keep].reset_index(drop=True)
    y = frame.loc[keep, "y"].to_numpy(dtype=float)
    t = frame.loc[keep, "treated"].to_numpy(dtype=int)
    e = prop.value[keep]
    cluster = None if keys is None else np.asarray(keys)[keep]
    support = feature_support(frame.loc[keep].reset_index(drop=True), Xk, plan.features_used)

    # The same stratified bound crossfit puts on each fold's training rows (seeded by hte_uplift_seed).
    train = np.arange(y.size)
    if train.size > config.max_train_rows:
        train, _ = train_test_split(train, train_size=config.max_train_rows, stratify=t, random_state=config.seed)
        train = np.sort(train)
    y_train = y[train]
    level_shift = 0.0
    if config.winsorize_quantile is not None and not plan.binary:
        clipped = winsorise(y_train, config.winsorize_quantile)
        level_shift = hajek_effect(y_train, t[train], e[train]) - hajek_effect(clipped, t[train], e[train])
        y_train = clipped
    inner = None if cluster is None else assign_folds(t[train], 2, config.seed, cluster[train])
    base = BaseModel.from_config(config.base_model, config.seed, two_part=config.outcome_model == "two_part")
    sample = TrainingSample(
        X=Xk.iloc[train], y=y_train, treated=t[train], propensity=e[train], binary=plan.binary, inner_fold=inner
    )
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        outcome = OutcomeModels.fit(base, sample) if learner_name in _USES_OUTCOME_MODELS else None
        learner = make_learner(learner_name).fit(base, sample, outcome)
        if learner_name == "constant":
            # As in crossfit: the raw-outcome average effect, never the clipped one.
            learner.effect_ = hajek_effect(y[train], t[train], e[train])
    shift = 0.0 if learner_name == "constant" else level_shift
    deployment = Deployment(
        plan.experiment_id,
        plan.metric,
        plan.arm,
        plan.control_arm,
        learner_name,
        learner,
        shift,
        list(plan.features_used),
        support,
    )
    fitted = deployment.predict(pd.DataFrame({c: frame.loc[keep, c].to_numpy() for c in plan.features_used}))
    return FitResult(
        deployment=deployment,
        n_training_rows=int(train.size),
        n_trimmed=prop.n_trimmed,
        propensity_source=prop.source,
        fingerprint=training_fingerprint(unit_id, t, y),
        mean_training_effect=float(np.mean(fitted)),
    )


def serialise(deployment: Deployment) -> tuple[str, str]:
    """(base64 text, SHA-256) of the fitted model. cloudpickle (a dependency of joblib, hence of scikit-learn):
    the learners hold their base models inside closures, which the standard pickle cannot write. Text, not a
    binary column, so the table lands the same way on every warehouse."""
    import cloudpickle

    raw = cloudpickle.dumps(deployment)
    return base64.b64encode(raw).decode("ascii"), hashlib.sha256(raw).hexdigest()


def deserialise(blob: str) -> Deployment:
    """The model a run row stores. Only ever called on hte_deployment_runs, a table this package wrote: unpickling
    runs code, so a blob from anywhere else must never reach it."""
    import cloudpickle

    return cloudpickle.loads(base64.b64decode(blob.encode("ascii")))


def _chosen(evaluation, learner_setting: str) -> dict[tuple[str, str, str], str]:
    """(experiment, metric, arm) -> the learner to deploy: the one hte_learner_evaluation marks is_chosen, or the
    one var hte_targeting_learner names."""
    rows = io.fetch(evaluation, ["experiment_id", "metric", "arm", "learner", "is_chosen"])
    if learner_setting != "chosen":
        rows = rows[rows["learner"].astype("string") == learner_setting]
    else:
        rows = rows[rows["is_chosen"].astype("boolean").fillna(False).astype(bool)]
    return {(str(r.experiment_id), str(r.metric), str(r.arm)): str(r.learner) for r in rows.itertuples()}


def _settings_text(settings: UpliftSettings) -> str:
    c = settings.crossfit
    return json.dumps(
        {
            "base_model": c.base_model,
            "max_train_rows": c.max_train_rows,
            "winsorize_quantile": c.winsorize_quantile,
            "outcome_model": c.outcome_model,
            "propensity_trim": settings.propensity_trim,
        },
        sort_keys=True,
        default=str,
    )


def iter_deployment_runs(
    units,
    features,
    assignments,
    experiments,
    evaluation,
    settings: UpliftSettings,
    learner_setting: str,
    metrics_by_experiment: dict[str, tuple[str, ...]],
    run_date: str,
    log=None,
) -> Iterator[pd.DataFrame]:
    """One hte_deployment_runs row per experiment x metric x treatment arm of the priced experiments
    (``metrics_by_experiment``: the metrics each experiment's economics use), one comparison read and fitted at a
    time. A comparison that cannot be deployed (not ok, or no chosen learner) gets a row with its status and
    reason and no model."""
    experiments = io.to_pandas(experiments)
    wanted = experiments[experiments["experiment_id"].astype(str).isin(list(metrics_by_experiment))]
    chosen = _chosen(evaluation, learner_setting)
    metrics = sorted({m for ms in metrics_by_experiment.values() for m in ms})
    # Only the metrics the economics use are read and fitted.
    scoped = dataclasses.replace(settings, metrics={m: settings.metrics[m] for m in metrics if m in settings.metrics})
    common = {
        "run_date": run_date,
        "package_version": package_version(),
        "seed": settings.crossfit.seed,
        "settings": _settings_text(settings),
    }
    import sklearn

    common["sklearn_version"] = sklearn.__version__
    for plan in iter_comparisons(units, features, assignments, wanted, scoped, model="hte_deployment_runs"):
        if plan.metric not in metrics_by_experiment.get(plan.experiment_id, ()):
            continue
        row = {
            **common,
            **plan.keys(),
            "n_treatment": plan.n_treatment,
            "n_control": plan.n_control,
            "status": plan.status,
            "reason": plan.reason or None,
            "features_used": ", ".join(plan.features_used) or None,
        }
        learner = chosen.get((plan.experiment_id, plan.metric, plan.arm))
        if plan.status != STATUS_OK:
            yield pd.DataFrame([row])
            continue
        if learner is None:
            row.update(
                status="no_chosen_learner",
                reason=f"{plan.label}: hte_learner_evaluation has no chosen learner for it (var "
                f"hte_targeting_learner is '{learner_setting}'); rebuild hte_learner_evaluation.",
            )
            yield pd.DataFrame([row])
            continue
        if log is not None:
            log(
                f"deployment: {plan.label}: fitting learner '{learner}' on all "
                f"{plan.n_treatment + plan.n_control:,} units"
            )
        fit = fit_deployment(plan, learner, settings)
        blob, sha = serialise(fit.deployment)
        row.update(
            learner=learner,
            n_training_rows=fit.n_training_rows,
            n_trimmed=fit.n_trimmed,
            propensity_source=fit.propensity_source,
            training_fingerprint=fit.fingerprint,
            feature_support=json.dumps({k: v.as_dict() for k, v in fit.deployment.support.items()}, sort_keys=True),
            level_shift=fit.deployment.level_shift,
            mean_training_effect=fit.mean_training_effect,
            model_sha256=sha,
            model_blob=blob,
        )
        plan.units = None  # release the comparison's rows before the next is read
        yield pd.DataFrame([row])


def deployment_runs_table(*args, session=None, **kwargs):
    """hte_deployment_runs: ``iter_deployment_runs``' rows (same arguments), streamed to the warehouse."""
    return io.stream_table(iter_deployment_runs(*args, **kwargs), RUN_COLUMNS, session)
