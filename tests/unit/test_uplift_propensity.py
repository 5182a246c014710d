"""Propensity sources, overlap trimming and the leakage guard, against known assignment mechanisms."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hte_engine.uplift.balance import balance_tests, leaking_features
from hte_engine.uplift.features import prepare_features
from hte_engine.uplift.learners import hajek_effect
from hte_engine.uplift.propensity import choose_propensity, column_propensity, design_propensity

FAST = {"max_iter": 40, "learning_rate": 0.1, "early_stopping": False, "min_samples_leaf": 40}


def test_design_propensity_is_the_pairwise_share():
    assert design_propensity(1 / 3, 1 / 3, 4) == pytest.approx(np.full(4, 0.5))
    assert design_propensity(0.1, 0.6, 2) == pytest.approx(np.full(2, 0.1 / 0.7))
    prop = choose_propensity(label="x", treated=[1, 0, 0], n_arms=2, share_treatment=0.05, share_control=0.95)
    # A small arm is a design choice, not a lack of overlap: nothing is trimmed.
    assert prop.source == "design" and prop.n_trimmed == 0


def test_column_propensity_turns_the_received_arm_probability_into_a_treatment_probability():
    e = column_propensity(np.array([0.2, 0.7, 0.4]), np.array([1, 0, 0]), "x")
    assert e == pytest.approx([0.2, 0.3, 0.6])
    with pytest.raises(ValueError, match="column 'propensity'"):
        column_propensity(np.array([0.0, 0.5]), np.array([1, 0]), "experiment 'e'")


def _observational(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    device = rng.choice(["mobile", "desktop"], n)
    true_e = 1 / (1 + np.exp(-(1.2 * x + 0.5 * (device == "mobile"))))
    t = (rng.random(n) < true_e).astype(int)
    y = 2.0 * x + 1.0 * t + rng.normal(size=n)  # the effect is 1 for everyone; x confounds
    frame = pd.DataFrame({"x": x, "device": device})
    ids = np.array([f"u{i:05d}" for i in range(n)])
    return ids, prepare_features(frame, ["x", "device"]), y, t, true_e


def _estimated(treated, X, unit_id, trim: float):
    """The propensity of an observational two-arm comparison, estimated out of fold (5 folds, the fast model)."""
    return choose_propensity(
        label="obs",
        treated=treated,
        n_arms=2,
        share_treatment=0.5,
        share_control=0.5,
        observational=True,
        X=X,
        unit_id=unit_id,
        folds=5,
        seed=0,
        trim=trim,
        base_model=FAST,
    )


def test_estimated_propensity_is_out_of_fold_and_removes_confounding():
    ids, X, y, t, true_e = _observational(6000, 11)
    prop = _estimated(t, X, ids, trim=0.02)
    assert prop.source == "estimated"
    assert np.corrcoef(prop.value, true_e)[0, 1] > 0.95
    keep = prop.keep
    naive = y[t == 1].mean() - y[t == 0].mean()
    adjusted = hajek_effect(y[keep], t[keep], prop.value[keep])
    # Naive difference is biased upwards by about 2 x E[x | treated] - 2 x E[x | control] (about 1.8 here);
    # weighting by the estimated propensity lands within 0.25 of the true effect 1.
    assert naive > 2.0
    assert adjusted == pytest.approx(1.0, abs=0.25)
    # The same inputs in another row order give the same propensities (folds are keyed on unit id order).
    order = np.random.default_rng(0).permutation(len(ids))
    again = _estimated(t[order], X.iloc[order], ids[order], trim=0.02)
    assert again.value == pytest.approx(prop.value[order], abs=1e-12)


def test_limited_overlap_is_trimmed_and_reported():
    ids, X, y, t, true_e = _observational(4000, 12)
    prop = _estimated(t, X, ids, trim=0.1)
    outside = (prop.value < 0.1) | (prop.value > 0.9)
    assert prop.n_trimmed == int(outside.sum()) > 0
    assert "trimmed" in prop.note and prop.overlap()["n_trimmed"] == prop.n_trimmed


def test_a_propensity_column_in_a_three_arm_experiment_falls_back_to_the_classifier():
    ids, X, y, t, true_e = _observational(1000, 13)
    prop = choose_propensity(
        label="obs",
        treated=t,
        n_arms=3,
        share_treatment=1 / 3,
        share_control=1 / 3,
        received=np.full(t.size, 1 / 3),
        X=X,
        unit_id=ids,
        folds=3,
        seed=0,
        base_model=FAST,
    )
    assert prop.source == "estimated" and "more than two arms" in prop.note


def test_balance_p_values_are_scipys_welch_and_chi_square():
    rng = np.random.default_rng(3)
    t = rng.integers(0, 2, 500)
    frame = pd.DataFrame({"num": rng.normal(size=500), "cat": rng.choice(list("abc"), 500)})
    tests = {b.feature: b.p_value for b in balance_tests(frame, t)}
    assert tests["num"] == pytest.approx(
        stats.ttest_ind(frame.num[t == 1], frame.num[t == 0], equal_var=False).pvalue, rel=1e-12
    )
    table = pd.crosstab(frame.cat, t).to_numpy()
    assert tests["cat"] == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-12)


def test_post_treatment_features_are_refused_and_clean_ones_kept():
    rng = np.random.default_rng(4)
    n = 3000
    t = rng.integers(0, 2, n)
    frame = pd.DataFrame(
        {
            "tenure": rng.exponential(30, n),
            "engagement_after": rng.normal(size=n) + 0.3 * t,
            "received": np.where(rng.random(n) < 0.8, np.where(t == 1, "opened", "none"), "none"),
        }
    )
    refused, _ = leaking_features(frame, t, alert_p=0.001)
    assert refused == ["engagement_after", "received"]


def test_clean_randomised_features_are_refused_at_most_at_the_alert_rate():
    rng = np.random.default_rng(5)
    alert_p, runs, refusals = 0.05, 400, 0
    for _ in range(runs):
        t = rng.integers(0, 2, 300)
        frame = pd.DataFrame(
            {"a": rng.normal(size=300), "b": rng.exponential(size=300), "c": rng.choice(list("xyz"), 300)}
        )
        refusals += bool(leaking_features(frame, t, alert_p)[0])
    # Bonferroni bounds the chance of any refusal by alert_p = 0.05; 3 binomial SE above it is 0.083.
    assert refusals / runs <= 0.083
