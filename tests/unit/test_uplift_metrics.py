"""Uplift metrics against scikit-uplift's published formulas, re-implemented here unit by unit, and against
scikit-uplift itself when it is installed (it is not a dependency; run this file with a Python that has
scikit-uplift 0.5.1 to include the direct comparison)."""

import importlib.util

import numpy as np
import pytest

from hte_engine.resampling import bootstrap
from hte_engine.uplift import metrics as um

TOL = 1e-9


# --- an independent, deliberately naive implementation of scikit-uplift 0.5.1's formulas -------------------------


def ref_curve(score, y, t, kind):
    """For every distinct score s (descending): the units with score >= s, per sklift's qini/uplift curve."""
    xs, vs = [0.0], [0.0]
    for s in sorted(set(score.tolist()), reverse=True):
        top = score >= s
        nt, nc = t[top].sum(), (1 - t[top]).sum()
        yt, yc = y[top & (t == 1)].sum(), y[top & (t == 0)].sum()
        if kind == "qini":
            v = yt - yc * (nt / nc if nc else 0.0)
        else:
            v = ((yt / nt if nt else 0.0) - (yc / nc if nc else 0.0)) * (nt + nc)
        xs.append(float(top.sum()))
        vs.append(float(v))
    return np.array(xs), np.array(vs)


def ref_area(x, v):
    return sum((x[i + 1] - x[i]) * (v[i] + v[i + 1]) / 2 for i in range(len(x) - 1))


def ref_normalised(score, y, t, kind, binary=True):
    x, v = ref_curve(score, y, t, kind)
    if kind == "qini" or not binary:
        perfect = y * t - y * (1 - t)
    else:
        cr, tn = np.sum((y == 1) & (t == 0)), np.sum((y == 0) & (t == 1))
        perfect = 2 * (y == t) + (y if cr > tn else t)
    xp, vp = ref_curve(perfect.astype(float), y, t, kind)
    base = xp[-1] * vp[-1] / 2
    return (ref_area(x, v) - base) / (ref_area(xp, vp) - base)


def sample(rng, n, binary, ties):
    x = rng.normal(size=n)
    t = rng.integers(0, 2, n)
    effect = 0.15 * (x > 0)
    if binary:
        y = (rng.random(n) < 0.2 + t * effect).astype(float)
    else:
        y = rng.exponential(1.0, n) * (rng.random(n) < 0.3) + t * effect
    score = x + rng.normal(scale=0.5, size=n)
    if ties:
        score = np.round(score, 1)
    return score, y, t


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_curves_and_areas_equal_sklift_formulas(binary, ties, seed):
    rng = np.random.default_rng(seed)
    score, y, t = sample(rng, 400, binary, ties)
    for kind, curve, area in [("qini", um.qini_curve, um.qini_coefficient), ("uplift", um.uplift_curve, um.auuc)]:
        x_ref, v_ref = ref_curve(score, y, t, kind)
        x, v = curve(score, y, t)
        np.testing.assert_allclose(x, x_ref, rtol=0, atol=TOL)
        np.testing.assert_allclose(v, v_ref, rtol=0, atol=TOL)
        assert area(score, y, t, binary=binary) == pytest.approx(ref_normalised(score, y, t, kind, binary), abs=TOL)


def test_ties_are_grouped_never_split_by_row_order():
    rng = np.random.default_rng(7)
    score, y, t = sample(rng, 300, True, ties=True)
    perm = rng.permutation(score.size)
    assert um.qini_coefficient(score, y, t) == pytest.approx(
        um.qini_coefficient(score[perm], y[perm], t[perm]), abs=1e-12
    )
    # A constant score is one tie group: its curve is the random line, so both areas are exactly zero.
    const = np.zeros(score.size)
    assert um.qini_coefficient(const, y, t) == pytest.approx(0.0, abs=1e-12)
    assert um.auuc(const, y, t) == pytest.approx(0.0, abs=1e-12)


def test_perfect_ranking_scores_one():
    rng = np.random.default_rng(3)
    _, y, t = sample(rng, 500, True, ties=False)
    assert um.qini_coefficient(um.perfect_qini_score(y, t), y, t) == pytest.approx(1.0, abs=TOL)
    assert um.auuc(um.perfect_uplift_score(y, t, binary=True), y, t) == pytest.approx(1.0, abs=TOL)


def test_weights_equal_replicated_rows():
    rng = np.random.default_rng(11)
    score, y, t = sample(rng, 200, False, ties=True)
    w = rng.integers(0, 4, score.size)
    rep = np.repeat(np.arange(score.size), w)
    for f in (um.qini_coefficient, um.auuc):
        assert f(score, y, t, weight=w.astype(float), binary=False) == pytest.approx(
            f(score[rep], y[rep], t[rep], binary=False), abs=TOL
        )


def test_uplift_at_k_matches_top_k_without_ties_and_pro_rata_with_ties():
    rng = np.random.default_rng(5)
    score, y, t = sample(rng, 500, True, ties=False)
    raw = um.raw_curve(score, y, t)
    top = np.argsort(-score)[:150]
    expected = y[top][t[top] == 1].mean() - y[top][t[top] == 0].mean()
    assert um.uplift_at_k(raw, 0.3)[0] == pytest.approx(expected, abs=TOL)

    score = np.round(score, 0)
    raw = um.raw_curve(score, y, t)
    cut = 0.3 * score.size
    # Units above the straddled tie group count fully, that group by the share of it that fits under the cut.
    w = np.zeros(score.size)
    above = score > np.sort(score)[::-1][int(cut)]
    at = score == np.sort(score)[::-1][int(cut)]
    w[above] = 1.0
    w[at] = (cut - above.sum()) / at.sum()
    expected = np.average(y[t == 1], weights=w[t == 1]) - np.average(y[t == 0], weights=w[t == 0])
    assert um.uplift_at_k(raw, 0.3)[0] == pytest.approx(expected, abs=TOL)


def ref_rate(priority, gamma):
    """grf's TOC and AUTOC, one unit at a time: tied priorities share their mean score."""
    order = np.argsort(-priority, kind="stable")
    p, g = priority[order], gamma[order].astype(float)
    for value in np.unique(p):
        g[p == value] = g[p == value].mean()
    n = g.size
    toc = np.array([g[: i + 1].mean() for i in range(n)]) - g.mean()
    frac = np.arange(1, n + 1) / n
    return toc, toc.mean(), np.mean(frac * toc)


def test_toc_and_autoc_equal_grf_formula_with_ties():
    rng = np.random.default_rng(2)
    n = 300
    priority = np.round(rng.normal(size=n), 1)
    gamma = priority + rng.normal(size=n)
    toc_ref, autoc_ref, qini_ref = ref_rate(priority, gamma)
    q = np.arange(1, n + 1) / n
    rate = um.rank_average_treatment_effect(priority, gamma, q=q)
    np.testing.assert_allclose(rate.toc, toc_ref, atol=TOL)
    assert rate.autoc == pytest.approx(autoc_ref, abs=TOL)
    assert rate.qini == pytest.approx(qini_ref, abs=TOL)
    const = um.rank_average_treatment_effect(np.zeros(n), gamma)
    assert const.autoc == pytest.approx(0.0, abs=TOL)
    np.testing.assert_allclose(const.toc, 0.0, atol=TOL)


def test_toc_at_fraction_between_units_takes_part_of_the_next_unit():
    priority = np.array([3.0, 2.0, 1.0, 0.0])
    gamma = np.array([4.0, 2.0, 0.0, -2.0])
    rate = um.rank_average_treatment_effect(priority, gamma, q=np.array([0.375]))
    # 1.5 units: all of the first (4) and half of the second (2): (4 + 1) / 1.5, minus the mean 1.
    assert rate.toc[0] == pytest.approx(5.0 / 1.5 - 1.0, abs=TOL)


def test_dr_score_with_true_nuisances_averages_to_the_effect():
    rng = np.random.default_rng(9)
    n = 200_000
    t = rng.integers(0, 2, n)
    y = 1.0 + 0.3 * t + rng.normal(size=n)
    dr = um.doubly_robust_effect_score(y, t, np.full(n, 0.5), np.full(n, 1.0), np.full(n, 1.3))
    ipw = um.ipw_effect_score(y, t, np.full(n, 0.5))
    se = 2 * dr.std() / np.sqrt(n)
    assert abs(dr.mean() - 0.3) < 3 * se
    assert abs(ipw.mean() - 0.3) < 3 * 3 * ipw.std() / np.sqrt(n)


def test_random_scores_land_within_three_standard_errors_of_zero():
    rng = np.random.default_rng(21)
    n = 4000
    t = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    y = (rng.random(n) < 0.2 + 0.1 * t * (x > 0)).astype(float)
    ids = np.arange(n).astype(str)
    for seed in range(5):
        score = np.random.default_rng(100 + seed).normal(size=n)
        ev = um.RankingEvaluator.of(score, y, t)
        summary = bootstrap(lambda w: [ev.qini_coefficient(w), ev.auuc(w)], ids, 60, seed)
        assert np.all(np.abs(summary.estimate) < 3 * summary.std_error), (summary.estimate, summary.std_error)
    # The informative score is far from zero on the same data: the test can fail.
    ev = um.RankingEvaluator.of(x, y, t)
    summary = bootstrap(lambda w: [ev.qini_coefficient(w)], ids, 60, 0)
    assert summary.estimate[0] > 3 * summary.std_error[0]


def test_all_equal_outcomes_give_no_number():
    t = np.array([0, 1] * 50)
    assert np.isnan(um.qini_coefficient(np.arange(100.0), np.zeros(100), t))


@pytest.mark.skipif(importlib.util.find_spec("sklift") is None, reason="scikit-uplift is not installed")
@pytest.mark.parametrize("ties", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_equal_to_scikit_uplift(ties, seed):
    from sklift import metrics as sk

    rng = np.random.default_rng(seed)
    score, y, t = sample(rng, 1000, True, ties)
    assert um.qini_coefficient(score, y, t) == pytest.approx(sk.qini_auc_score(y, score, t), abs=TOL)
    assert um.auuc(score, y, t) == pytest.approx(sk.uplift_auc_score(y, score, t), abs=TOL)
    for ours, theirs in [(um.qini_curve, sk.qini_curve), (um.uplift_curve, sk.uplift_curve)]:
        x, v = ours(score, y, t)
        x_sk, v_sk = theirs(y, score, t)
        np.testing.assert_allclose(x, x_sk, atol=TOL)
        np.testing.assert_allclose(v, v_sk, atol=TOL)
    if not ties:
        raw = um.raw_curve(score, y, t)
        assert um.uplift_at_k(raw, 0.3)[0] == pytest.approx(sk.uplift_at_k(y, score, t, "overall", k=0.3), abs=TOL)
