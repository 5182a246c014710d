"""hte_segment_lifts on the demo equals an independent computation, and that computation equals statsmodels.

Sources of truth: Welch se, z interval and p from statsmodels' CompareMeans (usevar='unequal'); CUPED from an
OLS of y on the arm indicator and the pre-period value (Frisch–Waugh–Lovell: the arm coefficient is
Δȳ − θ·Δx̄ with θ the within-arm pooled slope); relative lift from the delta-method formula; adjusted p-values
from statsmodels' multipletests. Tolerances: counts and labels exact, floats 1e-9 relative (reference.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

import reference as ref

CONTRACT_COLUMNS = [
    "experiment_id",
    "metric",
    "dimension",
    "segment",
    "arm",
    "control_arm",
    "n_treatment",
    "n_control",
    "mean_treatment",
    "mean_control",
    "lift_abs",
    "lift_abs_se",
    "lift_abs_ci_low",
    "lift_abs_ci_high",
    "lift_rel",
    "lift_rel_se",
    "lift_rel_ci_low",
    "lift_rel_ci_high",
    "lift_cuped",
    "lift_cuped_se",
    "p_value",
    "p_value_adj",
    "verdict",
]


def test_lifts_have_the_contract_columns(demo_build):
    missing = set(CONTRACT_COLUMNS) - set(demo_build.table("hte_segment_lifts").columns)
    assert not missing, f"hte_segment_lifts lacks contract columns {sorted(missing)}"


def test_lifts_match_reference(demo_build):
    ref.assert_agrees(ref.compare_built_mart(demo_build, ref.demo_reference(), "hte_segment_lifts"))


def test_interval_uses_the_alpha_quantile(demo_build):
    lifts = demo_build.table("hte_segment_lifts")
    alpha = ref.project_vars()["hte_alpha"]
    z = stats.norm.ppf(1 - alpha / 2)
    half = (lifts["lift_abs_ci_high"] - lifts["lift_abs_ci_low"]) / 2
    np.testing.assert_allclose(half, z * lifts["lift_abs_se"], rtol=1e-9)
    if "z_critical" in lifts.columns:
        np.testing.assert_allclose(lifts["z_critical"], z, rtol=1e-12)


def test_reference_welch_equals_statsmodels_compare_means():
    expected = ref.demo_reference()
    long = expected["long"]
    alpha = ref.project_vars()["hte_alpha"]
    for row in expected["hte_segment_lifts"].itertuples():
        treated, control = ref.arm_units(long, row)
        cm = CompareMeans(DescrStatsW(treated["y"].to_numpy()), DescrStatsW(control["y"].to_numpy()))
        z, p = cm.ztest_ind(usevar="unequal")
        low, high = cm.zconfint_diff(alpha=alpha, usevar="unequal")
        assert row.lift_abs_se == pytest.approx(cm.std_meandiff_separatevar, rel=1e-12)
        assert row.p_value == pytest.approx(p, rel=1e-9)
        assert (row.lift_abs_ci_low, row.lift_abs_ci_high) == pytest.approx((low, high), rel=1e-12, abs=1e-15)


def test_reference_cuped_equals_ols_on_arm_and_pre_period():
    expected = ref.demo_reference()
    long = expected["long"]
    rows = expected["hte_segment_lifts"].dropna(subset=["lift_cuped"])
    assert len(rows) > 0, "the demo has pre-period metrics: CUPED must be estimated somewhere"
    for row in rows.itertuples():
        treated, control = ref.arm_units(long, row)
        both = pd.concat([treated, control])
        design = sm.add_constant(np.column_stack([(both["arm"] == row.arm).to_numpy(float), both["x"].to_numpy()]))
        fit = sm.OLS(both["y"].to_numpy(), design).fit()
        assert row.lift_cuped == pytest.approx(fit.params[1], rel=1e-9, abs=1e-12)
        assert row.cuped_theta == pytest.approx(fit.params[2], rel=1e-9, abs=1e-12)
        # The se is the Welch se of the adjusted outcome y − θx with θ taken as known.
        adjusted = CompareMeans(
            DescrStatsW((treated["y"] - row.cuped_theta * treated["x"]).to_numpy()),
            DescrStatsW((control["y"] - row.cuped_theta * control["x"]).to_numpy()),
        )
        assert row.lift_cuped_se == pytest.approx(adjusted.std_meandiff_separatevar, rel=1e-9)


def test_reference_relative_lift_delta_method_against_simulation():
    # The delta-method se of ȳT/ȳC − 1 against the spread of the ratio over a parametric bootstrap of the two
    # means (independent normals with the estimated standard errors): 40,000 draws pin the spread to about
    # 0.4%, and the delta method's own error at these sample sizes is far below the 2% tolerance.
    expected = ref.demo_reference()
    rows = expected["hte_segment_lifts"]
    rng = np.random.default_rng(7)
    for row in rows[rows["dimension"] == "overall"].itertuples():
        treated, control = ref.arm_units(expected["long"], row)
        se_t = np.sqrt(treated["y"].var(ddof=1) / len(treated))
        se_c = np.sqrt(control["y"].var(ddof=1) / len(control))
        ratio = rng.normal(row.mean_treatment, se_t, 40_000) / rng.normal(row.mean_control, se_c, 40_000) - 1
        assert row.lift_rel_se == pytest.approx(ratio.std(ddof=1), rel=0.02), (row.experiment_id, row.metric, row.arm)


def test_reference_adjustment_is_multipletests_per_family():
    lifts = ref.demo_reference()["hte_segment_lifts"]
    family = lifts[(lifts["dimension"] != "overall") & ~lifts["is_too_small"] & lifts["p_value"].notna()]
    method = ref.P_ADJUST_METHODS[ref.project_vars()["hte_p_adjust"]]
    for _, group in family.groupby(ref.FAMILY_KEYS[ref.project_vars()["hte_p_adjust_family"]]):
        np.testing.assert_allclose(group["p_value_adj"], multipletests(group["p_value"], method=method)[1], rtol=1e-15)
        assert (group["family_size"] == len(group)).all()
