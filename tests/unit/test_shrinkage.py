"""Empirical-Bayes segment effects: closed form, the direction of the pull, and lower error than raw effects."""

from __future__ import annotations

import numpy as np
import pytest

from hte_engine.regression.shrinkage import shrink_segment_effects, shrink_with_prior


def test_posterior_matches_normal_normal_closed_form() -> None:
    # Known prior N(1, 0.5^2), estimate 3 with se 1: posterior mean 1 + 0.25/1.25 * 2 = 1.4, and with
    # var(mu_hat) the posterior variance is (1 - B) se^2 + B^2 var(mu_hat) with B = 1/1.25.
    est, se = np.array([3.0, 1.0]), np.array([1.0, 0.5])
    out = shrink_with_prior(est, se, prior_mean=1.0, tau2=0.25)
    b = np.array([1.0 / 1.25, 0.25 / 0.5])
    var_mu = 1.0 / np.sum(1.0 / (se**2 + 0.25))
    assert out.posterior_mean == pytest.approx([1.4, 1.0], rel=1e-12)
    assert out.posterior_sd == pytest.approx(np.sqrt((1 - b) * se**2 + b**2 * var_mu), rel=1e-12)


def test_tiny_noisy_segment_moves_far_large_segment_barely() -> None:
    estimates = np.array([0.10, 0.12, 0.08, 0.11, 0.09, 0.10, 0.13, 0.07, 0.90])
    std_errors = np.array([0.01, 0.01, 0.012, 0.01, 0.01, 0.011, 0.01, 0.012, 0.40])
    out = shrink_segment_effects(estimates, std_errors)
    moved = np.abs(out.posterior_mean - estimates)
    assert moved[-1] > 0.5 * abs(estimates[-1] - out.prior_mean), (
        "the tiny spectacular segment is pulled most of the way"
    )
    assert np.all(moved[:-1] < 0.5 * std_errors[:-1]), "precise segments move less than half their se"
    assert out.shrinkage[-1] > 0.5 > 0.3 > out.shrinkage[:-1].max()


def test_rejects_fewer_than_four_segments() -> None:
    with pytest.raises(ValueError, match="at least 4 segments"):
        shrink_segment_effects(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.1, 0.1]))


@pytest.mark.slow
def test_shrinkage_lowers_mse_and_keeps_coverage_against_planted_truth() -> None:
    # 2000 dimensions of 12 segments: true effects N(0.05, 0.03^2), segment sizes from 50 to 20000 units so
    # standard errors span 0.007-0.14. Promise: lower mean squared error than the raw estimates, and the
    # posterior intervals cover the truth at close to their nominal 95%.
    rng = np.random.default_rng(2024)
    sizes = np.geomspace(50, 20000, 12)
    std_errors = 1.0 / np.sqrt(sizes)
    raw_se2, shrunk_se2, covered = [], [], []
    for _ in range(2000):
        truth = rng.normal(0.05, 0.03, 12)
        estimates = truth + rng.normal(size=12) * std_errors
        out = shrink_segment_effects(estimates, std_errors)
        raw_se2.append((estimates - truth) ** 2)
        shrunk_se2.append((out.posterior_mean - truth) ** 2)
        covered.append((out.ci_low <= truth) & (truth <= out.ci_high))
    raw_mse, shrunk_mse = np.mean(raw_se2), np.mean(shrunk_se2)
    assert shrunk_mse < 0.6 * raw_mse, (raw_mse, shrunk_mse)
    # Coverage is averaged over segments (empirical-Bayes intervals are calibrated on average, not per
    # segment); 24000 intervals give a Monte Carlo se of 0.0014, so the band is about +-2 points of slack for
    # the approximation, not for noise. Without Morris's correction this comes out near 0.88.
    assert 0.93 <= np.mean(covered) <= 0.975, np.mean(covered)
