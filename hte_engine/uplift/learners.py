"""CATE meta-learners (T, S, X, DR) and the constant average-effect learner, over scikit-learn base models.

Each learner is fitted on one training sample of one treatment arm against control and predicts the effect
tau(x) = E[Y | x, treated] - E[Y | x, control] for new units. Cross-fitting (``crossfit``) decides which units a
learner may see; this module only knows how to fit and predict.

References: Kuenzel, Sekhon, Bickel & Yu (2019) "Metalearners for estimating heterogeneous treatment effects"
(T, S, X); Kennedy (2023) "Towards optimal doubly robust estimation of heterogeneous causal effects" (DR).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import StratifiedKFold

from hte_engine.uplift.features import category_codes, category_levels

LEARNERS = ("constant", "t", "s", "x", "dr")

# Shallow, regularised boosting with early stopping: effects are small next to outcome noise, and a model that
# chases noise reports heterogeneity that is not there (the failure the evaluation's constant fallback guards).
DEFAULT_BASE_MODEL = {
    "name": "hist_gradient_boosting",
    "max_iter": 200,
    # 0.1 with early stopping: the same held-out loss as 0.05 in our runs on the demo, at 60% of the fitting time.
    "learning_rate": 0.1,
    # 7 leaves, not 15: on bench/bench_learners.py's simulations (continuous, heavy-tailed and 10%-treated, 100k
    # and 1M units) the X-learner's PEHE fell by 7 to 19% at the same fitting time, and the choice stopped taking
    # learners worse than the constant on heavy tails (tests/unit/test_learners.py): deeper trees fitted the noise of
    # imputed effects and pseudo-outcomes, and single large outcomes.
    "max_leaf_nodes": 7,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "early_stopping": True,
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
}


@dataclass(frozen=True)
class BaseModel:
    """Which scikit-learn estimator fits outcomes and pseudo-outcomes, and with what settings."""

    params: dict = field(default_factory=lambda: dict(DEFAULT_BASE_MODEL))
    seed: int = 0
    # Outcome models of non-negative, zero-inflated continuous outcomes as P(Y > 0 | x) * E[Y | Y > 0, x]
    # (var hte_uplift_outcome_model: two_part); see ``fit_outcome``.
    two_part: bool = False

    @classmethod
    def from_config(cls, config: dict | None, seed: int, two_part: bool = False) -> BaseModel:
        params = dict(DEFAULT_BASE_MODEL)
        params.update(config or {})
        if params["name"] != "hist_gradient_boosting":
            raise ValueError(
                f"Base model '{params['name']}' is not supported; set var hte_uplift_base_model to "
                "{name: hist_gradient_boosting, ...} (scikit-learn's HistGradientBoosting with native "
                "categorical support)."
            )
        return cls(params=params, seed=seed, two_part=two_part)

    def _kwargs(self, categorical: list[str]) -> dict:
        kwargs = {k: v for k, v in self.params.items() if k != "name"}
        return {**kwargs, "categorical_features": categorical or None, "random_state": self.seed}

    def regressor(self, categorical: list[str] = ()):
        return HistGradientBoostingRegressor(**self._kwargs(list(categorical)))

    def classifier(self, categorical: list[str] = ()):
        return HistGradientBoostingClassifier(**self._kwargs(list(categorical)))


Predictor = Callable[[pd.DataFrame], np.ndarray]


def fit_outcome(base: BaseModel, X: pd.DataFrame, y: np.ndarray, binary: bool, outcome: bool = False) -> Predictor:
    """E[Y | x] from one sample; for a 0/1 outcome the classifier's probability, which stays in [0, 1].

    ``outcome`` marks a model of the observed outcome (not of a pseudo-outcome): with ``base.two_part`` and a
    non-negative continuous outcome that has zeros, it is fitted as P(Y > 0 | x) * E[Y | Y > 0, x]. Revenue is
    mostly zeros with a long right tail; a single regression spends its splits on the tail's few large values,
    while the two parts separate who buys (many units, a stable signal) from how much a buyer spends.
    """
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        raise ValueError("An outcome model needs at least one training unit.")
    positive = y > 0
    if outcome and base.two_part and not binary and y.min() >= 0 and 2 <= positive.sum() < y.size:
        buys = fit_outcome(base, X, positive.astype(float), binary=True)
        amount = fit_outcome(base, X.loc[positive], y[positive], binary=False)
        return lambda Xn: buys(Xn) * amount(Xn)
    if np.all(y == y[0]):
        # A constant outcome (e.g. no conversions in this arm of the fold) has nothing to learn; sklearn's
        # classifiers refuse a single class.
        value = float(y[0])
        return lambda Xn: np.full(len(Xn), value)
    levels = category_levels(X)
    coded = category_codes(X, levels)
    if binary:
        model = base.classifier(list(levels)).fit(coded, y.astype(int))
        return lambda Xn: model.predict_proba(category_codes(Xn, levels))[:, 1]
    model = base.regressor(list(levels)).fit(coded, y)
    return lambda Xn: model.predict(category_codes(Xn, levels))


@dataclass
class TrainingSample:
    """One fold's training units for one treatment arm against control.

    ``propensity`` is P(treated | x) for each unit (the design share in a randomised experiment).
    """

    X: pd.DataFrame
    y: np.ndarray
    treated: np.ndarray
    propensity: np.ndarray
    binary: bool
    # Fold of each training unit for learners that cross-fit inside the sample (the DR learner), set by
    # ``crossfit`` when units carry clusters so that the inner folds keep clusters whole too; None: the learner
    # splits units itself.
    inner_fold: np.ndarray | None = None

    def arm(self, value: int) -> tuple[pd.DataFrame, np.ndarray]:
        mask = self.treated == value
        return self.X.loc[mask], self.y[mask]


@dataclass
class OutcomeModels:
    """mu_0(x) and mu_1(x), one model per arm: the T-learner, and the nuisances of the X- and DR-learners."""

    mu0: Predictor
    mu1: Predictor

    @classmethod
    def fit(cls, base: BaseModel, sample: TrainingSample) -> OutcomeModels:
        X0, y0 = sample.arm(0)
        X1, y1 = sample.arm(1)
        return cls(
            mu0=fit_outcome(base, X0, y0, sample.binary, outcome=True),
            mu1=fit_outcome(base, X1, y1, sample.binary, outcome=True),
        )


def hajek_effect(y, treated, propensity) -> float:
    """Inverse-propensity average effect with normalised weights: the difference in means when e is constant."""
    y, t, e = (np.asarray(a, dtype=float) for a in (y, treated, propensity))
    w1, w0 = t / e, (1 - t) / (1 - e)
    return float(np.sum(w1 * y) / np.sum(w1) - np.sum(w0 * y) / np.sum(w0))


class ConstantLearner:
    """The average effect for everyone: the honest answer when no learner beats it."""

    name = "constant"

    def fit(self, base, sample: TrainingSample, outcome: OutcomeModels | None = None) -> ConstantLearner:
        self.effect_ = hajek_effect(sample.y, sample.treated, sample.propensity)
        return self

    def predict(self, X: pd.DataFrame, propensity=None) -> np.ndarray:
        return np.full(len(X), self.effect_)


class TLearner:
    """tau(x) = mu_1(x) - mu_0(x), one outcome model per arm."""

    name = "t"

    def fit(self, base, sample, outcome: OutcomeModels | None = None) -> TLearner:
        self.outcome_ = outcome if outcome is not None else OutcomeModels.fit(base, sample)
        return self

    def predict(self, X, propensity=None):
        return self.outcome_.mu1(X) - self.outcome_.mu0(X)


class SLearner:
    """One outcome model with the treatment indicator as a feature; tau(x) = f(x, 1) - f(x, 0)."""

    name = "s"
    _column = "__hte_treated__"

    def fit(self, base, sample, outcome=None) -> SLearner:
        X = sample.X.assign(**{self._column: sample.treated.astype(float)})
        self.model_ = fit_outcome(base, X, sample.y, sample.binary, outcome=True)
        return self

    def predict(self, X, propensity=None):
        return self.model_(X.assign(**{self._column: 1.0})) - self.model_(X.assign(**{self._column: 0.0}))


class XLearner:
    """Impute each unit's effect with the other arm's outcome model, regress the imputations on x within each
    arm, and blend the two effect models by the propensity: tau = e * tau_0 + (1 - e) * tau_1 (Kuenzel et al.),
    so the arm with more units, whose effect model is better, carries more weight."""

    name = "x"

    def fit(self, base, sample, outcome: OutcomeModels | None = None) -> XLearner:
        outcome = outcome if outcome is not None else OutcomeModels.fit(base, sample)
        X0, y0 = sample.arm(0)
        X1, y1 = sample.arm(1)
        self.tau1_ = fit_outcome(base, X1, y1 - outcome.mu0(X1), binary=False)
        self.tau0_ = fit_outcome(base, X0, outcome.mu1(X0) - y0, binary=False)
        self.share_ = float(np.mean(sample.propensity))
        return self

    def predict(self, X, propensity: np.ndarray | None = None):
        e = self.share_ if propensity is None else np.asarray(propensity, dtype=float)
        return e * self.tau0_(X) + (1 - e) * self.tau1_(X)


class DRLearner:
    """Regress doubly-robust pseudo-outcomes on x. The nuisances behind each unit's pseudo-outcome are fitted
    on the other half of the training sample (internal two-fold cross-fitting), so no unit's own noise enters
    its pseudo-outcome through an overfitted outcome model (Kennedy 2023, sample splitting)."""

    name = "dr"

    def __init__(self, inner_folds: int = 2):
        self.inner_folds = inner_folds

    def fit(self, base, sample, outcome=None) -> DRLearner:
        n = sample.y.size
        mu0, mu1 = np.empty(n), np.empty(n)
        if sample.inner_fold is None:
            splitter = StratifiedKFold(self.inner_folds, shuffle=True, random_state=base.seed)
            splits = list(splitter.split(np.zeros(n), sample.treated))
        else:
            # A cluster-mate on the other side of the split would carry the unit's own noise into its nuisances.
            splits = [
                (np.flatnonzero(sample.inner_fold != k), np.flatnonzero(sample.inner_fold == k))
                for k in np.unique(sample.inner_fold)
            ]
        for train, held in splits:
            part = TrainingSample(
                X=sample.X.iloc[train],
                y=sample.y[train],
                treated=sample.treated[train],
                propensity=sample.propensity[train],
                binary=sample.binary,
            )
            models = OutcomeModels.fit(base, part)
            X_held = sample.X.iloc[held]
            mu0[held], mu1[held] = models.mu0(X_held), models.mu1(X_held)
        t, e, y = sample.treated, sample.propensity, sample.y
        pseudo = mu1 - mu0 + t * (y - mu1) / e - (1 - t) * (y - mu0) / (1 - e)
        self.tau_ = fit_outcome(base, sample.X, pseudo, binary=False)
        return self

    def predict(self, X, propensity=None):
        return self.tau_(X)


def make_learner(name: str):
    factories = {"constant": ConstantLearner, "t": TLearner, "s": SLearner, "x": XLearner, "dr": DRLearner}
    if name not in factories:
        raise ValueError(f"Unknown uplift learner '{name}'; var hte_uplift_learners accepts {sorted(factories)}.")
    return factories[name]()
