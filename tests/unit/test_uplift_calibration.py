"""BLP calibration test and decile table against closed forms, statsmodels and simulations with known truth."""

import numpy as np
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from hte_engine.uplift.calibration import blp_calibration_test, decile_table, effect_groups


def simulate(n, rng, heterogeneity):
    x = rng.normal(size=n)
    tau = 0.2 + heterogeneity * x
    t = rng.integers(0, 2, n)
    y = x + t * tau + rng.normal(size=n)
    return x, tau, t, y


def test_blp_coefficients_and_hc3_errors_equal_the_closed_form():
    rng = np.random.default_rng(0)
    n = 3000
    x, tau, t, y = simulate(n, rng, 0.3)
    cate = tau + rng.normal(scale=0.2, size=n)
    e, mu0, mu1 = np.full(n, 0.5), x, x + 0.2
    res = blp_calibration_test(y, t, e, mu0, mu1, cate)
    m = e * mu1 + (1 - e) * mu0
    D = np.column_stack([cate.mean() * (t - e), (cate - cate.mean()) * (t - e)])
    beta = np.linalg.solve(D.T @ D, D.T @ (y - m))
    resid = y - m - D @ beta
    bread = np.linalg.inv(D.T @ D)
    h = np.einsum("ij,jk,ik->i", D, bread, D)
    meat = (D * (resid / (1 - h))[:, None]).T @ (D * (resid / (1 - h))[:, None])
    se = np.sqrt(np.diag(bread @ meat @ bread))
    assert [res.mean_prediction, res.heterogeneity_loading] == pytest.approx(beta, abs=1e-10)
    assert [res.mean_prediction_se, res.heterogeneity_loading_se] == pytest.approx(se, rel=1e-8)


def test_true_effects_are_calibrated():
    rng = np.random.default_rng(1)
    n = 20000
    x, tau, t, y = simulate(n, rng, 0.3)
    res = blp_calibration_test(y, t, np.full(n, 0.5), x, x + 0.2, tau)
    assert abs(res.heterogeneity_loading - 1) < 3 * res.heterogeneity_loading_se
    assert abs(res.mean_prediction - 1) < 3 * res.mean_prediction_se
    assert res.heterogeneity_p_value < 1e-6


@pytest.mark.slow
def test_under_no_heterogeneity_the_test_rejects_at_about_alpha():
    rng = np.random.default_rng(2)
    n, reps, alpha = 2000, 400, 0.05
    rejections = 0
    for _ in range(reps):
        x, tau, t, y = simulate(n, rng, 0.0)
        # Noise scores: what an overfitted learner reports when there is nothing to find.
        cate = rng.normal(size=n)
        res = blp_calibration_test(y, t, np.full(n, 0.5), x, x + 0.2, cate)
        rejections += res.heterogeneity_p_value < alpha
    rate = rejections / reps
    assert abs(rate - alpha) < 3 * np.sqrt(alpha * (1 - alpha) / reps), rate


def test_constant_scores_have_no_calibration_test():
    rng = np.random.default_rng(3)
    x, tau, t, y = simulate(500, rng, 0.3)
    res = blp_calibration_test(y, t, np.full(500, 0.5), x, x, np.full(500, 0.2))
    assert res.status == "constant_scores" and np.isnan(res.heterogeneity_p_value)


def test_decile_lifts_equal_welch_differences_and_ties_share_a_group():
    rng = np.random.default_rng(4)
    n = 2000
    x, tau, t, y = simulate(n, rng, 0.3)
    cate = np.round(tau, 1)
    groups = effect_groups(cate, 10)
    for value in np.unique(cate):
        assert np.unique(groups[cate == value]).size == 1
    assert groups[np.argmax(cate)] == 1
    table = decile_table(cate, y, t, y * (4 * t - 2), n_groups=10)
    for _, row in table.iterrows():
        part = groups == row.decile
        cm = CompareMeans(DescrStatsW(y[part & (t == 1)]), DescrStatsW(y[part & (t == 0)]))
        low, high = cm.tconfint_diff(usevar="unequal")
        assert row.observed_lift == pytest.approx((low + high) / 2, abs=1e-12)
        assert row.observed_lift_se == pytest.approx(cm.std_meandiff_separatevar, rel=1e-12)
    assert table.n_units.sum() == n
