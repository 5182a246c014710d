"""hte_checks and hte_dimension_tests on the demo against scipy and statsmodels.

SRM: scipy.stats.chisquare of the unit counts per arm against n·expected_share. Balance: scipy.stats.
chi2_contingency(segment × arm table, correction=False). Cochran's Q: the reference's Q, pooled lift and I² are
cross-checked with statsmodels' fixed-effect meta-analysis (combine_effects), the p-value with scipy.stats.chi2.sf.
Tolerances: labels and degrees of freedom exact, statistics and p-values 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.meta_analysis import combine_effects

import reference as ref


def test_checks_match_scipy(demo_build):
    expected = ref.demo_reference()["hte_checks"]
    # experiment_interaction rows have their own reference (statsmodels' saturated OLS, tests/
    # test_experiment_interactions.py); the demo's are checked against its planted truth in test_demo_recovery.py
    actual = demo_build.table("hte_checks").query("check_name != 'experiment_interaction'")
    ref.assert_agrees(ref.compare_checks(actual, expected))


def test_alert_threshold_and_messages(demo_build):
    checks = demo_build.table("hte_checks")
    alert_p = ref.project_vars()["hte_check_alert_p"]
    tested = checks[checks["p_value"].notna()]
    assert (tested["status"] == np.where(tested["p_value"] < alert_p, "alert", "pass")).all()
    assert np.allclose(tested["threshold"].astype(float), alert_p)
    assert checks["message"].notna().all() and (checks["message"].str.len() > 20).all()


def test_dimension_tests_match_reference(demo_build):
    ref.assert_agrees(ref.compare_built_mart(demo_build, ref.demo_reference(), "hte_dimension_tests"))


# combine_effects also estimates random-effects quantities (unused here), taking the square root of a negative
# between-segment variance estimate when Q < df.
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_reference_cochran_q_equals_statsmodels_meta_analysis():
    expected = ref.demo_reference()
    lifts = expected["hte_segment_lifts"]
    tests = expected["hte_dimension_tests"]
    ok = tests[tests["status"] == "ok"]
    assert len(ok) > 0
    for row in ok.itertuples():
        in_dimension = ref.shares_key(lifts, row, ref.DIMENSION_TEST_KEYS)
        usable = lifts[in_dimension & ~lifts["is_too_small"] & lifts["p_value"].notna()]
        meta = combine_effects(usable["lift_abs"].to_numpy(), usable["lift_abs_se"].to_numpy() ** 2, method_re="chi2")
        assert row.statistic == pytest.approx(meta.q, rel=1e-9)
        assert row.pooled_lift == pytest.approx(meta.mean_effect_fe, rel=1e-9, abs=1e-12)
        assert row.i_squared == pytest.approx(max(0.0, meta.i2), rel=1e-9, abs=1e-12)
        assert row.df == len(usable) - 1
