"""The hashed Poisson bootstrap: Poisson(1) weights, a pure function of (seed, replicate, unit id)."""

import numpy as np
import pytest
from scipy import stats

from hte_engine.resampling import bootstrap, poisson1_quantile, poisson_weights, unit_hash


def test_weights_follow_poisson_one():
    n = 200_000
    w = poisson_weights(unit_hash(np.arange(n)), replicate=3, seed=42)
    counts = np.bincount(w.astype(int), minlength=6)[:6]
    expected = stats.poisson.pmf(np.arange(6), 1.0) * n
    # Chi-square goodness of fit on the first six values (they hold all but ~6e-4 of the mass).
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, df=5) > 1e-3
    assert w.mean() == pytest.approx(1.0, abs=4 / np.sqrt(n))


def test_the_tabled_quantile_is_the_binary_search_of_the_poisson_cdf_at_every_edge():
    # poisson1_quantile reads most weights from a table on the uniform's top 16 bits; it must give exactly what a
    # search of the CDF gives, on random values and on the uniforms at, just below and just above every CDF value
    # and every table bin's edges (a changed weight would silently change every published interval).
    cdf = stats.poisson.cdf(np.arange(21), 1.0)
    at_cdf = np.floor(cdf[cdf < 1] * 2.0**53).astype(np.uint64)
    edges = np.arange(2**16, dtype=np.uint64) << np.uint64(37)
    points = np.concatenate([at_cdf, edges])
    mixed = np.concatenate(
        [
            np.random.default_rng(3).integers(0, 2**63, 1_000_000, dtype=np.uint64) * np.uint64(2),
            *[(points + np.uint64(d)) << np.uint64(11) for d in (0, 1)],
            (points[points > 0] - np.uint64(1)) << np.uint64(11),
        ]
    )
    uniform = (mixed >> np.uint64(11)).astype(np.float64) * 2.0**-53
    np.testing.assert_array_equal(poisson1_quantile(mixed), np.searchsorted(cdf, uniform, side="right"))


def test_weight_of_a_unit_depends_only_on_its_id_seed_and_replicate():
    ids = np.array([f"u{i}" for i in range(1000)])
    w = poisson_weights(unit_hash(ids), 5, seed=1)
    perm = np.random.default_rng(0).permutation(ids.size)
    np.testing.assert_array_equal(poisson_weights(unit_hash(ids[perm]), 5, seed=1), w[perm])
    np.testing.assert_array_equal(poisson_weights(unit_hash(ids[:10]), 5, seed=1), w[:10])
    assert not np.array_equal(poisson_weights(unit_hash(ids), 6, seed=1), w)
    assert not np.array_equal(poisson_weights(unit_hash(ids), 5, seed=2), w)
    # Integer ids and their text hash alike: the warehouse stores unit_id as a string.
    np.testing.assert_array_equal(unit_hash(np.arange(5)), unit_hash([str(i) for i in range(5)]))


def test_replicates_are_uncorrelated():
    h = unit_hash(np.arange(50_000))
    r = np.corrcoef(poisson_weights(h, 0, 7), poisson_weights(h, 1, 7))[0, 1]
    assert abs(r) < 4 / np.sqrt(50_000)


def test_bootstrap_standard_error_of_a_mean_matches_the_closed_form():
    rng = np.random.default_rng(4)
    y = rng.exponential(2.0, 5000)
    ids = np.arange(y.size)
    summary = bootstrap(lambda w: [np.average(y, weights=w)], ids, 400, seed=3)
    closed_form = y.std(ddof=1) / np.sqrt(y.size)
    # 400 replicates estimate an SE to about 1/sqrt(2 * 400) = 3.5% relative error; allow 15%.
    assert summary.std_error[0] == pytest.approx(closed_form, rel=0.15)
    assert summary.ci_low[0] < y.mean() < summary.ci_high[0]
    again = bootstrap(lambda w: [np.average(y, weights=w)], ids, 400, seed=3)
    np.testing.assert_array_equal(again.replicates, summary.replicates)


def _comparison(n, seed):
    """A two-arm comparison whose learner 't' ranks by x; the effect is 0.2 below x = 0 and 0.6 above."""
    import pandas as pd

    from hte_engine.uplift.crossfit import CrossFitResult

    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    tau = 0.2 + 0.4 * (x > 0)
    y = x + tau * t + rng.normal(size=n)
    units = pd.DataFrame(
        {
            "unit_id": [f"u{seed}_{i:07d}" for i in range(n)],
            "fold": 0,
            "treated": t,
            "propensity": 0.5,
            "mu0": 0.0,
            "mu1": 0.0,
            "y": y,
            "dr_score": y * (t / 0.5 - (1 - t) / 0.5),
            "cate_constant": 0.0,
            "cate_t": x,
        }
    )
    return CrossFitResult(units=units, learners=("constant", "t"), n_train_rows={0: n})


def test_bounded_bootstrap_keeps_point_estimates_and_matches_the_full_bootstraps_spread():
    """hte_uplift_bootstrap_max_units: replicates on a hash sample of m of n units, rescaled. Point estimates are
    the full sample's (identical); standard errors agree with the bootstrap on every unit within 25%, for the
    coefficients (spread ~ 1/sqrt(n)) and for the curves' sums (spread ~ sqrt(n)): on a quarter of the units, and
    on a tenth (what the default of 50,000 gives a comparison of 500,000)."""
    from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners

    result = _comparison(60_000, 1)
    full = evaluate_learners(result, EvaluationConfig(bootstrap_max_units=None), parts=("learners", "curves"))
    f = full.learners.set_index("learner").loc["t"]
    assert f["bootstrap_units"] == 60_000
    for m in (15_000, 6_000):
        bounded = evaluate_learners(result, EvaluationConfig(bootstrap_max_units=m), parts=("learners", "curves"))
        b = bounded.learners.set_index("learner").loc["t"]
        assert 0.85 * m < b["bootstrap_units"] < 1.15 * m
        for figure in ("qini_coefficient", "auuc", "autoc", "rate_qini", "uplift_at_50"):
            assert b[figure] == f[figure]
        for figure in ("qini_coefficient", "auuc", "autoc", "rate_qini"):
            assert 0.75 < b[f"{figure}_se"] / f[f"{figure}_se"] < 1.33, (m, figure)
        width = {
            name: (
                e.curves.query("learner == 't' and curve == 'qini' and point == 50")
                .eval("value_ci_high - value_ci_low")
                .iloc[0]
            )
            for name, e in (("full", full), ("b", bounded))
        }
        assert 0.75 < width["b"] / width["full"] < 1.33, m


@pytest.mark.slow
def test_bounded_bootstrap_intervals_cover_the_true_uplift_at_half_in_simulation():
    """80 experiments of 6,000 units, replicates on 1,500: the 95% interval of uplift at 50% (truth 0.6: the
    effect above the median of x) covers the truth in 88-99% of them (binomial 95% range for 80 draws at 0.95)."""
    from hte_engine.uplift.evaluation import EvaluationConfig, evaluate_learners

    config = EvaluationConfig(bootstrap_max_units=1_500, bootstrap_replicates=100, curve_points=10)
    covered = []
    for seed in range(80):
        row = evaluate_learners(_comparison(6_000, 100 + seed), config, parts=("learners",)).learners
        row = row.set_index("learner").loc["t"]
        covered.append(row["uplift_at_50_ci_low"] <= 0.6 <= row["uplift_at_50_ci_high"])
    assert 0.88 <= np.mean(covered) <= 0.99, np.mean(covered)
