"""Cross-fitting: every unit's effect score comes from models that never saw it.

Units are split into K folds stratified by arm. For each fold, every learner is trained on (a bounded sample of)
the other folds and scores the fold in batches. When assignments carry a ``cluster_id``, whole clusters go to one
fold: units of a cluster share outcome noise, so a model trained on a unit's cluster-mates has partly seen that
unit's noise, and its "out-of-fold" prediction would carry it into the unit's residual and doubly-robust score.
The same loop yields the out-of-fold outcome predictions mu_0, mu_1 behind each unit's doubly-robust effect score,
which the evaluation uses as its per-unit truth proxy.

Reruns reproduce the scores: units are put in unit-id order before anything random happens (a warehouse returns
rows in no fixed order), and the folds, the training samples and the base models take their seeds from the
configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split
from threadpoolctl import threadpool_limits

from hte_engine.uplift.learners import LEARNERS, BaseModel, OutcomeModels, TrainingSample, hajek_effect, make_learner
from hte_engine.uplift.metrics import doubly_robust_effect_score


@dataclass(frozen=True)
class CrossFitConfig:
    """Settings that reach the engine from dbt vars (``hte_uplift_*``)."""

    folds: int = 5
    seed: int = 0
    max_train_rows: int = 1_000_000
    batch_size: int = 100_000
    learners: tuple[str, ...] = LEARNERS
    # the var's default (dbt_project.yml); other keys of the var override DEFAULT_BASE_MODEL's parameters
    base_model: dict | None = field(default_factory=lambda: {"name": "hist_gradient_boosting"})
    # Upper quantile at which continuous training outcomes are winsorised (None: off). Heavy right tails let a
    # few units dominate every split; see ``winsorise``.
    winsorize_quantile: float | None = 0.999
    # 'direct' or 'two_part' (non-negative zero-inflated continuous outcomes: P(Y > 0 | x) * E[Y | Y > 0, x]).
    outcome_model: str = "direct"
    # OpenMP threads per base-model fit. One by default: on the shared cores a dbt run gets, HistGradientBoosting's
    # threads spin-wait on each other and ran ten times slower than one thread in our measurements.
    threads: int = 1


@dataclass
class CrossFitResult:
    """Per unit (in unit-id order): fold, outcome, arm, propensity, out-of-fold mu_0 / mu_1, the doubly-robust
    effect score, and one out-of-fold CATE column per learner (``cate_<learner>``)."""

    units: pd.DataFrame
    learners: tuple[str, ...]
    n_train_rows: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_nuisances(
        cls, unit_id, fold, y, treated, propensity, mu0, mu1, cate: dict, n_train_rows: dict[int, int]
    ) -> CrossFitResult:
        """The result of each unit's out-of-fold nuisances and learner scores (``cate``: learner -> scores), with
        its doubly-robust score: the one place the units table is laid out, for ``cross_fit`` and for simulations
        that know the true nuisances."""
        units = pd.DataFrame(
            {
                "unit_id": unit_id,
                "fold": fold,
                "y": y,
                "treated": treated,
                "propensity": propensity,
                "mu0": mu0,
                "mu1": mu1,
                "dr_score": doubly_robust_effect_score(y, treated, propensity, mu0, mu1),
            }
        )
        for name, values in cate.items():
            units[f"cate_{name}"] = values
        return cls(units=units, learners=tuple(cate), n_train_rows=n_train_rows)

    def scores(self) -> pd.DataFrame:
        """Long format: unit_id, learner, cate, fold, n_train_rows."""
        frames = []
        for learner in self.learners:
            frames.append(
                pd.DataFrame(
                    {
                        "unit_id": self.units["unit_id"].to_numpy(),
                        "learner": learner,
                        "cate": self.units[f"cate_{learner}"].to_numpy(),
                        "fold": self.units["fold"].to_numpy(),
                    }
                )
            )
        long = pd.concat(frames, ignore_index=True)
        long["n_train_rows"] = long["fold"].map(self.n_train_rows).astype("int64")
        return long


def winsorise(y: np.ndarray, quantile: float) -> np.ndarray:
    """Clip at the ``quantile`` and ``1 - quantile`` sample quantiles of the training outcomes.

    For revenue-like outcomes (mostly zeros, a long right tail) only the upper clip binds. The clipped outcome
    shrinks the effect's level, which ``cross_fit`` restores; the ranking is what the clip is for. A bound that
    reaches the median is not applied: when fewer than 1 - quantile of the units buy at all, the upper quantile
    is 0 and clipping there would erase every purchase, not the tail of the purchases.
    """
    if not 0.5 < quantile < 1:
        raise ValueError(f"var hte_uplift_winsorize_quantile must be in (0.5, 1); got {quantile}.")
    low, median, high = np.quantile(y, [1 - quantile, 0.5, quantile])
    return np.clip(y, low if low < median else None, high if high > median else None)


def assign_folds(treated: np.ndarray, folds: int, seed: int, cluster=None) -> np.ndarray:
    """Fold number of each unit (``treated`` may hold any arm codes).

    Without clusters every fold holds the same share of each arm (up to one unit). With ``cluster`` (one key
    per unit; see ``resampling.resampling_keys``) every cluster lies in one fold, and the clusters are
    dealt to the folds in turn, in a seeded random order within strata of arm composition: for two arms, the
    clusters of control units only, then clusters with units of both arms, then those of treated units only.
    Each arm's clusters are thus dealt consecutively, so an arm with at least ``folds`` clusters has units in
    every fold, and every fold holds about the same number of each arm's clusters (the same number of units when
    clusters have equal sizes).
    """
    treated = np.asarray(treated)
    if cluster is None:
        fold = np.empty(treated.size, dtype=np.int64)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for k, (_, held) in enumerate(splitter.split(np.zeros(treated.size), treated)):
            fold[held] = k
        return fold
    # scikit-learn's StratifiedGroupKFold places groups one at a time in a Python loop (minutes for a million
    # singleton clusters) and does not promise that every fold holds both arms; dealing is vectorised and does.
    keys = pd.Series(cluster).astype(str).to_numpy(dtype=object)
    if keys.size != treated.size:
        raise ValueError(f"One cluster key per unit is needed; got {keys.size} keys for {treated.size} units.")
    _, codes = np.unique(keys, return_inverse=True)
    arm_codes, arm = np.unique(treated, return_inverse=True)
    n_clusters = int(codes.max()) + 1
    if n_clusters < folds:
        raise ValueError(
            f"Cross-fitting in {folds} folds that keep clusters together needs at least {folds} "
            f"clusters; got {n_clusters}."
        )
    lowest = np.full(n_clusters, arm_codes.size)
    highest = np.full(n_clusters, -1)
    np.minimum.at(lowest, codes, arm)
    np.maximum.at(highest, codes, arm)
    # Strata: a pure cluster of arm a sorts at 2a, a mixed cluster at 2 * lowest arm + 1 (for two arms:
    # control only, mixed, treated only).
    stratum = np.where(lowest == highest, 2 * lowest, 2 * lowest + 1)
    shuffle = np.random.default_rng(seed).random(n_clusters)
    dealt = np.empty(n_clusters, dtype=np.int64)
    dealt[np.lexsort((shuffle, stratum))] = np.arange(n_clusters) % folds
    return dealt[codes]


def clusters_per_arm(treated, cluster) -> dict:
    """Number of distinct clusters holding units of each arm (a cluster with units of both counts for both)."""
    frame = pd.DataFrame({"arm": np.asarray(treated), "cluster": pd.Series(cluster).astype(str).to_numpy()})
    return frame.groupby("arm")["cluster"].nunique().to_dict()


def _bounded(train: np.ndarray, treated: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    if train.size <= max_rows:
        return train
    kept, _ = train_test_split(train, train_size=max_rows, stratify=treated[train], random_state=seed)
    return np.sort(kept)


def _in_batches(predict, X: pd.DataFrame, batch_size: int, propensity: np.ndarray) -> np.ndarray:
    out = np.empty(len(X))
    for start in range(0, len(X), batch_size):
        stop = start + batch_size
        out[start:stop] = predict(X.iloc[start:stop], propensity=propensity[start:stop])
    return out


def cross_fit(
    unit_id,
    X: pd.DataFrame,
    y,
    treated,
    propensity,
    binary: bool,
    config: CrossFitConfig = CrossFitConfig(),
    experiment_label: str = "",
    log=None,
    cluster=None,
) -> CrossFitResult:
    """Out-of-fold CATE scores of every configured learner for one treatment arm against control.
    ``log`` (e.g. hte_engine.progress.progress) receives one line per fold, so a long run shows where it is.
    ``cluster``: one resampling key per unit (``resampling.resampling_keys``: the cluster id, or the unit
    id where it has none); with it, folds keep clusters whole."""
    with threadpool_limits(limits=config.threads, user_api="openmp"):
        return _cross_fit(unit_id, X, y, treated, propensity, binary, config, experiment_label, log, cluster)


def _cross_fit(
    unit_id,
    X: pd.DataFrame,
    y,
    treated,
    propensity,
    binary: bool,
    config: CrossFitConfig,
    experiment_label: str,
    log=None,
    cluster=None,
) -> CrossFitResult:
    unit_id = pd.Series(unit_id).astype(str).to_numpy(dtype=object)
    order = np.argsort(unit_id, kind="stable")
    unit_id = unit_id[order]
    if cluster is not None:
        cluster = pd.Series(cluster).astype(str).to_numpy(dtype=object)[order]
    X = X.iloc[order].reset_index(drop=True)
    y = np.asarray(y, dtype=float)[order]
    t = np.asarray(treated).astype(int)[order]
    e = np.asarray(propensity, dtype=float)[order]

    smallest_arm = min(int(t.sum()), int((1 - t).sum()))
    if smallest_arm < config.folds:
        raise ValueError(
            f"dbt_hte uplift: {experiment_label}: an arm has {smallest_arm} units, fewer than the "
            f"{config.folds} folds (var hte_uplift_folds); cross-fitting needs units of both arms in every fold."
        )
    if config.outcome_model not in ("direct", "two_part"):
        raise ValueError(f"var hte_uplift_outcome_model must be 'direct' or 'two_part'; got '{config.outcome_model}'.")
    if cluster is not None:
        per_arm = clusters_per_arm(t, cluster)
        fewest = min(per_arm.get(0, 0), per_arm.get(1, 0))
        if fewest < config.folds:
            raise ValueError(
                f"dbt_hte uplift: {experiment_label}: an arm has units in {fewest} clusters, fewer than the "
                f"{config.folds} folds (var hte_uplift_folds); folds keep clusters whole, so every fold needs "
                "clusters of both arms. Use fewer folds or more clusters."
            )
    base = BaseModel.from_config(config.base_model, config.seed, two_part=config.outcome_model == "two_part")
    fold = assign_folds(t, config.folds, config.seed, cluster)
    cate = {name: np.empty(y.size) for name in config.learners}
    mu0, mu1 = np.empty(y.size), np.empty(y.size)
    n_train_rows: dict[int, int] = {}

    for k in range(config.folds):
        held = np.flatnonzero(fold == k)
        train = _bounded(np.flatnonzero(fold != k), t, config.max_train_rows, config.seed + k)
        n_train_rows[k] = int(train.size)
        if log is not None:
            log(
                f"uplift: {experiment_label}: fold {k + 1} of {config.folds}, learners {', '.join(config.learners)}, "
                f"{train.size:,} training rows, scoring {held.size:,} units"
            )
        y_train = y[train]
        level_shift = 0.0
        if config.winsorize_quantile is not None and not binary:
            clipped = winsorise(y_train, config.winsorize_quantile)
            # Put the effect level back where the raw outcomes have it; the clip is meant to steady the ranking.
            level_shift = hajek_effect(y_train, t[train], e[train]) - hajek_effect(clipped, t[train], e[train])
            y_train = clipped
        inner = None if cluster is None else assign_folds(t[train], 2, config.seed, cluster[train])
        sample = TrainingSample(
            X=X.iloc[train], y=y_train, treated=t[train], propensity=e[train], binary=binary, inner_fold=inner
        )
        outcome = OutcomeModels.fit(base, sample)
        X_held, e_held = X.iloc[held], e[held]
        mu0[held] = _in_batches(
            lambda Xb, propensity, outcome=outcome: outcome.mu0(Xb), X_held, config.batch_size, e_held
        )
        mu1[held] = _in_batches(
            lambda Xb, propensity, outcome=outcome: outcome.mu1(Xb), X_held, config.batch_size, e_held
        )
        for name in config.learners:
            learner = make_learner(name).fit(base, sample, outcome)
            shift = level_shift if name != "constant" else 0.0
            if name == "constant":
                # The constant is the raw-outcome average effect of the training folds, never the clipped one.
                learner.effect_ = hajek_effect(y[train], t[train], e[train])
            cate[name][held] = _in_batches(learner.predict, X_held, config.batch_size, e_held) + shift

    return CrossFitResult.from_nuisances(
        unit_id, fold, y, t, e, mu0, mu1, {name: cate[name] for name in config.learners}, n_train_rows
    )
