"""The hashed Poisson bootstrap: Poisson(1) weights, a pure function of (seed, replicate, unit id)."""

import numpy as np
import pytest
from scipy import stats

from hte_engine.uplift_bootstrap import bootstrap, poisson_weights, unit_hash


def test_weights_follow_poisson_one():
    n = 200_000
    w = poisson_weights(unit_hash(np.arange(n)), replicate=3, seed=42)
    counts = np.bincount(w.astype(int), minlength=6)[:6]
    expected = stats.poisson.pmf(np.arange(6), 1.0) * n
    # Chi-square goodness of fit on the first six values (they hold all but ~6e-4 of the mass).
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert stats.chi2.sf(chi2, df=5) > 1e-3
    assert w.mean() == pytest.approx(1.0, abs=4 / np.sqrt(n))


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
