"""Confidence sequences (macros/stats/hte_cs_radius.sql): the closed form against two independent writings
of the published boundary, the tuning parameter against a numerical optimum, and simulations with a known truth:
30 daily looks at an A/A test (the daily fixed-horizon test's false-positive rate against the sequence's) and
coverage of a planted effect at every look. The SQL columns are checked equal to these formulas on built data in
tests/build/test_monitoring.py."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from sequential_reference import p_value_sequential, radius_howard, radius_waudby_smith, rho_squared

ALPHA = 0.05
TUNING_N = 10_000  # the package default (dbt_project.yml: hte_sequential_tuning_n)


def test_two_published_forms_agree():
    se = np.array([0.01, 0.3, 2.5, 1e-4])
    t = np.array([50, 1_000, 10_000, 3_000_000])
    for alpha in (0.01, 0.05, 0.2):
        for tuning_n in (500, 10_000, 1e6):
            np.testing.assert_allclose(
                radius_waudby_smith(se, t, alpha, tuning_n), radius_howard(se, t, alpha, tuning_n), rtol=1e-12
            )


def test_rho_is_tightest_at_the_tuning_sample_size():
    # Waudby-Smith et al.'s rho is a closed-form approximation to the width-minimising one: the width it gives at
    # t* is within 0.01% of the numerical minimum over rho (scipy); the width is flat there, so the minimising rho
    # itself is only within 5% (2.4% at alpha 0.1).
    for alpha in (0.01, 0.05, 0.1):
        for t_star in (1_000, 10_000, 1_000_000):

            def width(log_rho):
                rho2 = np.exp(2 * log_rho)
                return np.sqrt(2 * (t_star * rho2 + 1) / (t_star * rho2) * np.log(np.sqrt(t_star * rho2 + 1) / alpha))

            best = optimize.minimize_scalar(width, bounds=(-20, 5), method="bounded", options={"xatol": 1e-10})
            ours = 0.5 * np.log(rho_squared(alpha, t_star))
            assert width(ours) <= best.fun * (1 + 1e-4)
            assert abs(np.exp(ours - best.x) - 1) < 0.05


def test_wider_than_fixed_horizon_and_p_value_matches_the_sequence():
    # At t* (alpha 0.05) the sequence is 3.04 standard errors wide against z = 1.96: the price of peeking.
    assert radius_waudby_smith(1.0, TUNING_N, ALPHA, TUNING_N) == pytest.approx(3.0352, abs=1e-3)
    rng = np.random.default_rng(0)
    se, t = rng.uniform(0.01, 1, 2_000), rng.integers(20, 10**6, 2_000)
    radius = radius_waudby_smith(se, t, ALPHA, TUNING_N)
    assert np.all(radius > stats.norm.ppf(1 - ALPHA / 2) * se)
    # p-value duality: at estimate = radius exactly p = alpha; the sequence excludes 0 exactly when p < alpha.
    np.testing.assert_allclose(p_value_sequential(radius, se, t, ALPHA, TUNING_N), ALPHA, rtol=1e-10)
    estimate = rng.normal(0, 3, 2_000) * se
    p = p_value_sequential(estimate, se, t, ALPHA, TUNING_N)
    assert np.array_equal(p < ALPHA, np.abs(estimate) > radius)


def _daily_looks(effect: float, n_sims: int, seed: int, days: int = 30, units_per_day: int = 500, base: float = 0.10):
    """Binary outcomes, two arms assigned 50/50, units arriving daily; the lift, Welch se and both intervals at the
    end of each day, computed as hte_segment_lifts does (cumulative sums, ddof 1). Returns (lift, se, t) arrays of
    shape (n_sims, days)."""
    rng = np.random.default_rng(seed)
    n_t_daily = rng.binomial(units_per_day, 0.5, size=(n_sims, days))
    n_c_daily = units_per_day - n_t_daily
    y_t_daily = rng.binomial(n_t_daily, base + effect)
    y_c_daily = rng.binomial(n_c_daily, base)
    n_t, n_c = n_t_daily.cumsum(1), n_c_daily.cumsum(1)
    s_t, s_c = y_t_daily.cumsum(1), y_c_daily.cumsum(1)  # binary: sum y = sum y²
    mean_t, mean_c = s_t / n_t, s_c / n_c
    var_t = (s_t - s_t * s_t / n_t) / (n_t - 1) / n_t
    var_c = (s_c - s_c * s_c / n_c) / (n_c - 1) / n_c
    return mean_t - mean_c, np.sqrt(var_t + var_c), n_t + n_c


def test_thirty_looks_under_no_effect():
    # 4,000 A/A experiments, looked at after each of 30 days (500 units a day, 15,000 at the end).
    lift, se, t = _daily_looks(0.0, n_sims=4_000, seed=11)
    fixed_p = 2 * stats.norm.sf(np.abs(lift / se))
    seq_p = p_value_sequential(lift, se, t, ALPHA, TUNING_N)
    fixed_fpr = np.mean((fixed_p < ALPHA).any(axis=1))
    seq_fpr = np.mean((seq_p < ALPHA).any(axis=1))
    last_look_fpr = np.mean(fixed_p[:, -1] < ALPHA)
    print(
        f"\nA/A, 30 daily looks: fixed-horizon test ever significant {fixed_fpr:.3f}; at the last look only "
        f"{last_look_fpr:.3f}; confidence sequence ever significant {seq_fpr:.3f}"
    )
    # Monte Carlo se of a rate near 0.27 with 4,000 runs: 0.007; the bounds are 4 se around the 25-30% expected.
    assert 0.22 < fixed_fpr < 0.34
    assert abs(last_look_fpr - ALPHA) < 0.015  # one look is fine: peeking is the problem
    assert seq_fpr <= ALPHA


def test_planted_effect_is_covered_at_every_look_at_once():
    effect = 0.02
    lift, se, t = _daily_looks(effect, n_sims=4_000, seed=12)
    radius = radius_waudby_smith(se, t, ALPHA, TUNING_N)
    covered_always = np.mean((np.abs(lift - effect) <= radius).all(axis=1))
    fixed_always = np.mean((np.abs(lift - effect) <= stats.norm.ppf(1 - ALPHA / 2) * se).all(axis=1))
    detected = np.mean((p_value_sequential(lift, se, t, ALPHA, TUNING_N) < ALPHA).any(axis=1))
    print(
        f"\nplanted +2 pp: sequence covers it at all 30 looks in {covered_always:.3f} of runs; the fixed interval "
        f"in {fixed_always:.3f}; the sequence detects the effect by day 30 in {detected:.3f}"
    )
    assert covered_always >= 1 - ALPHA
    assert fixed_always < 1 - ALPHA  # what the sequence fixes
    assert detected > 0.5  # and it still finds a real effect
