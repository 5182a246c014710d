"""Empirical-Bayes shrinkage of segment effects: the remedy for the noisy subgroup illusion.

Normal-normal model (Efron & Morris 1975; Morris 1983): each segment's true effect theta_s is drawn from
N(mu, tau^2) and its estimate is N(theta_s, se_s^2). The between-segment variance tau^2 is estimated from the
data by the Paule-Mandel method of moments (statsmodels' `combine_effects`, method_re='iterated'), which stays
non-negative and, unlike DerSimonian-Laird, solves the moment equation exactly. The posterior mean pulls each
estimate toward mu by the factor B_s = se_s^2 / (se_s^2 + tau^2): a tiny segment (large se) moves almost all the
way, a large segment (small se) barely moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects


@dataclass(frozen=True)
class ShrunkEffects:
    """Posterior summaries per segment, in the order the estimates were given."""

    prior_mean: float
    tau2: float
    shrinkage: np.ndarray
    posterior_mean: np.ndarray
    posterior_sd: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray


def shrink_with_prior(
    estimates: np.ndarray, std_errors: np.ndarray, prior_mean: float, tau2: float, alpha: float = 0.05
) -> ShrunkEffects:
    """Normal-normal posterior given the prior (the textbook closed form, for a prior known from elsewhere).

    The posterior variance adds B_s^2 Var(mu_hat) to the known-prior variance (1 - B_s) se_s^2 (Morris 1983,
    eq. 4.2 without the tau^2-uncertainty term), so an interval does not pretend the dimension's mean is known.
    """
    estimates = np.asarray(estimates, dtype=float)
    variances = np.asarray(std_errors, dtype=float) ** 2
    shrink = variances / (variances + tau2) if tau2 > 0 else np.ones_like(variances)
    weights = 1.0 / (variances + tau2)
    var_prior_mean = 1.0 / weights.sum()
    posterior_mean = prior_mean + (1.0 - shrink) * (estimates - prior_mean)
    posterior_var = (1.0 - shrink) * variances + shrink**2 * var_prior_mean
    posterior_sd = np.sqrt(posterior_var)
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    return ShrunkEffects(
        prior_mean=float(prior_mean),
        tau2=float(tau2),
        shrinkage=shrink,
        posterior_mean=posterior_mean,
        posterior_sd=posterior_sd,
        ci_low=posterior_mean - z * posterior_sd,
        ci_high=posterior_mean + z * posterior_sd,
    )


MIN_SEGMENTS = 4


def shrink_segment_effects(estimates: np.ndarray, std_errors: np.ndarray, alpha: float = 0.05) -> ShrunkEffects:
    """Empirical-Bayes segment effects with the prior (mu, tau^2) estimated from the segments themselves.

    Plugging the estimated prior into the known-prior posterior overshrinks and its intervals undercover
    (about 88% for a nominal 95% with 12 segments in tests/unit/test_shrinkage.py), because tau^2 is uncertain.
    Morris (1983, JASA 78:47-55, eq. 4.1-4.3) corrects both: the shrinkage factor is scaled by (k-3)/(k-1) and
    the variance gains 2/(k-3) B_s^2 (y_s - mu)^2. The correction needs k >= 4 segments; with fewer the prior
    is barely identified and the caller reports the raw effects only.
    """
    estimates = np.asarray(estimates, dtype=float)
    std_errors = np.asarray(std_errors, dtype=float)
    k = estimates.size
    if k < MIN_SEGMENTS or not np.all(np.isfinite(estimates)) or not np.all(std_errors > 0):
        raise ValueError(
            f"empirical-Bayes shrinkage needs at least {MIN_SEGMENTS} segments with finite estimates and positive "
            "standard errors; report the raw segment effects instead."
        )
    combined = combine_effects(estimates, std_errors**2, method_re="iterated")
    prior_mean, tau2 = float(combined.mean_effect_re), float(combined.tau2)
    variances = std_errors**2
    shrink = (k - 3) / (k - 1) * variances / (variances + tau2)
    var_prior_mean = 1.0 / np.sum(1.0 / (variances + tau2))
    posterior_mean = prior_mean + (1.0 - shrink) * (estimates - prior_mean)
    posterior_var = (
        (1.0 - shrink) * variances
        + shrink**2 * var_prior_mean
        + 2.0 / (k - 3) * shrink**2 * (estimates - prior_mean) ** 2
    )
    posterior_sd = np.sqrt(posterior_var)
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    return ShrunkEffects(
        prior_mean=prior_mean,
        tau2=tau2,
        shrinkage=shrink,
        posterior_mean=posterior_mean,
        posterior_sd=posterior_sd,
        ci_low=posterior_mean - z * posterior_sd,
        ci_high=posterior_mean + z * posterior_sd,
    )
