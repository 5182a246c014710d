"""Adjusted intervals (issue 14 item 6) and practical verdicts (issue 17 part 1) of hte_segment_lifts and
hte_segment_differences, on the demo built under each multiple-testing method with a threshold per metric.

Sources of truth and tolerances:
- adjusted intervals: estimate +- scipy.stats.norm.ppf(1 - level / 2) * se with the level recomputed here from the
  family's p-values (statsmodels multipletests for R): alpha / m for bonferroni and holm, max(R, 1) alpha / m for
  bh (Benjamini & Yekutieli 2005). 1e-9 relative (the SQL quantile is accurate to 1e-13).
- agreement with the verdict: exact (an inequality on each row).
- equivalence p-value of a lift with an absolute threshold: statsmodels CompareMeans.ztost_ind(-d, d,
  usevar='unequal') on the unit rows, 1e-9 relative; the decision equals ttost_ind's (Welch t) wherever the two
  p-values are not within 1e-3 of alpha (t and normal differ by O(1/df), df in the thousands here).
- equivalence p-value with a relative threshold, and of differences: the closed form max(Phi(-(e + d)/se),
  Phi((e - d)/se)) in scipy, 1e-9 relative; the relative threshold of a difference is d times the overall control
  mean, computed here from the unit rows.
- practical_verdict: the category rule recomputed in pandas from the published intervals, exact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

import reference as ref
from dbt_runner import run_dbt

ALPHA = 0.05
# Chosen so that every practical verdict occurs on the demo (asserted below, so a change of the demo that would
# leave a branch untested fails instead of passing vacuously).
METRICS = {
    "purchase": {"kind": "binary", "min_effect": 0.03},
    "visit": {"kind": "binary", "min_effect_relative": 0.02},
    "spend": {"kind": "continuous", "min_effect": 2.0},
}
FAMILY = ["experiment_id", "metric", "arm"]
STATSMODELS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}
NOT_TESTED = {"too_small", "not_estimable"}


def _build(tmp_path_factory, method: str):
    result = run_dbt(
        ["build", "--select", "+hte_segment_lifts", "+hte_segment_differences"],
        tmp_path_factory.mktemp(f"practical_{method}"),
        vars={"hte_metrics": METRICS, "hte_p_adjust": method},
    )
    assert result.ok, result.output[-6000:]
    return result.table("hte_segment_lifts"), result.table("hte_segment_differences")


@pytest.fixture(scope="module", params=["holm", "bonferroni", "bh"])
def built(request, tmp_path_factory):
    lifts, differences = _build(tmp_path_factory, request.param)
    return request.param, lifts, differences


def _expected_levels(rows: pd.DataFrame, method: str, tested: pd.Series) -> pd.Series:
    """Per row, the level of its adjusted interval, from the family's raw p-values."""
    level = pd.Series(np.nan, index=rows.index)
    for _, family in rows[tested].groupby(FAMILY):
        m = len(family)
        rejected = multipletests(family["p_value"].to_numpy(), alpha=ALPHA, method=STATSMODELS[method])[1] < ALPHA
        r = int(rejected.sum())
        level[family.index] = (max(r, 1) * ALPHA / m) if method == "bh" else ALPHA / m
    return level


def _check_adjusted(rows, method, estimate, se, low, high, tested):
    level = _expected_levels(rows, method, tested)
    z = stats.norm.ppf(1 - level / 2)
    np.testing.assert_allclose(rows["alpha_adjusted"], level, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(rows[low], rows[estimate] - z * rows[se], rtol=1e-9, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(rows[high], rows[estimate] + z * rows[se], rtol=1e-9, atol=1e-12, equal_nan=True)


def test_adjusted_intervals_of_lifts_match_the_family_level(built):
    method, lifts, _ = built
    segments = lifts[lifts["dimension"] != "overall"]
    tested = ~segments["verdict_fixed"].isin(NOT_TESTED)
    assert tested.sum() > 10
    _check_adjusted(segments, method, "lift_abs", "lift_abs_se", "lift_abs_ci_low_adj", "lift_abs_ci_high_adj", tested)
    _check_adjusted(segments, method, "lift_rel", "lift_rel_se", "lift_rel_ci_low_adj", "lift_rel_ci_high_adj", tested)
    # the ATE is a family of one: its adjusted interval is its interval
    overall = lifts[lifts["dimension"] == "overall"]
    np.testing.assert_allclose(overall["lift_abs_ci_low_adj"], overall["lift_abs_ci_low"], rtol=1e-12)
    np.testing.assert_allclose(overall["lift_abs_ci_high_adj"], overall["lift_abs_ci_high"], rtol=1e-12)
    # a test outside the family has no adjusted interval (it is not tested)
    assert lifts.loc[lifts["verdict_fixed"].isin(NOT_TESTED), "lift_abs_ci_low_adj"].isna().all()


def test_adjusted_intervals_of_differences_match_the_family_level(built):
    method, _, differences = built
    tested = ~differences["verdict"].isin(NOT_TESTED)
    assert tested.sum() > 10
    _check_adjusted(
        differences, method, "difference", "difference_se", "difference_ci_low_adj", "difference_ci_high_adj", tested
    )


def _excludes_zero(low: pd.Series, high: pd.Series) -> pd.Series:
    return (low > 0) | (high < 0)


@pytest.mark.parametrize("table", ["lifts", "differences"])
def test_adjusted_interval_agrees_with_the_verdict(built, table):
    """An inconclusive verdict never comes with an adjusted interval that excludes zero (every method); a
    positive / negative verdict always does under bonferroni and bh (BY intervals at R alpha / m: a BH rejection has
    p <= R alpha / m, a non-rejection p > (R + 1) alpha / m). Under holm, Bonferroni intervals are conservative:
    a Holm rejection with p >= alpha / m keeps an adjusted interval that touches zero; those are counted, and each
    must have p_value >= alpha / m (otherwise the interval would be wrong)."""
    method, lifts, differences = built
    if table == "lifts":
        rows, verdict = lifts, "verdict_fixed"
        low, high = rows["lift_abs_ci_low_adj"], rows["lift_abs_ci_high_adj"]
    else:
        rows, verdict = differences, "verdict"
        low, high = rows["difference_ci_low_adj"], rows["difference_ci_high_adj"]
    excludes = _excludes_zero(low, high)
    inconclusive = rows[verdict] == "inconclusive"
    assert not (excludes & inconclusive).any(), rows[excludes & inconclusive].to_string()
    significant = rows[verdict].isin(["positive", "negative"])
    assert significant.any()
    # the sign of the interval is the sign of the verdict
    assert ((rows[verdict] == "positive") <= ~(high < 0)).all() and ((rows[verdict] == "negative") <= ~(low > 0)).all()
    if method in ("bonferroni", "bh"):
        assert excludes[significant].all(), rows[significant & ~excludes].to_string()
    else:
        touching = rows[significant & ~excludes]
        assert (touching["p_value"] >= touching["alpha_adjusted"] * (1 - 1e-12)).all()


def _closed_form_tost(estimate, se, delta):
    return np.maximum(stats.norm.cdf(-(estimate + delta) / se), stats.norm.cdf((estimate - delta) / se))


def test_equivalence_of_lifts_against_statsmodels_tost(built):
    method, lifts, _ = built
    if method != "holm":
        pytest.skip("the equivalence test does not depend on the multiple-testing method; checked once")
    long = ref.demo_reference()["long"]
    tested = lifts[~lifts["verdict_fixed"].isin(NOT_TESTED)]
    absolute = tested[tested["metric"].map(lambda m: "min_effect" in METRICS[m])]
    compared = 0
    for row in absolute.itertuples():
        delta = METRICS[row.metric]["min_effect"]
        assert row.min_effect == pytest.approx(delta, rel=1e-15)
        treated, control = ref.arm_units(long, row)
        cm = CompareMeans(DescrStatsW(treated["y"].to_numpy()), DescrStatsW(control["y"].to_numpy()))
        p_z = cm.ztost_ind(-delta, delta, usevar="unequal")[0]
        assert row.p_value_equivalence == pytest.approx(p_z, rel=1e-9, abs=1e-300)
        p_t = cm.ttost_ind(-delta, delta, usevar="unequal")[0]
        if abs(p_t - ALPHA) > 1e-3 and abs(p_z - ALPHA) > 1e-3:
            assert (p_t < ALPHA) == (row.practical_verdict == "negligible"), row
        compared += 1
    assert compared > 20
    relative = tested[tested["metric"] == "visit"]
    delta = METRICS["visit"]["min_effect_relative"]
    np.testing.assert_allclose(
        relative["p_value_equivalence"],
        _closed_form_tost(relative["lift_rel"], relative["lift_rel_se"], delta),
        rtol=1e-9,
    )


def test_equivalence_of_differences_closed_form(built):
    method, _, differences = built
    if method != "holm":
        pytest.skip("the equivalence test does not depend on the multiple-testing method; checked once")
    long = ref.demo_reference()["long"]
    overall = long[long["dimension"] == "overall"]
    control_mean = overall.groupby(["experiment_id", "metric", "arm"])["y"].mean()
    expected_threshold = [
        METRICS[r.metric].get("min_effect")
        or METRICS[r.metric]["min_effect_relative"] * abs(control_mean[(r.experiment_id, r.metric, r.control_arm)])
        for r in differences.itertuples()
    ]
    np.testing.assert_allclose(differences["practical_threshold"], expected_threshold, rtol=1e-12)
    tested = differences[~differences["verdict"].isin(NOT_TESTED)]
    np.testing.assert_allclose(
        tested["p_value_equivalence"],
        _closed_form_tost(tested["difference"], tested["difference_se"], tested["practical_threshold"]),
        rtol=1e-9,
    )


def _expected_practical(estimate, se, delta, low_adj, high_adj, tested):
    z = stats.norm.ppf(1 - ALPHA)  # the (1 - 2 alpha) interval: TOST at level alpha
    out = np.where(
        low_adj > delta,
        "meaningful_positive",
        np.where(
            high_adj < -delta,
            "meaningful_negative",
            np.where((estimate - z * se > -delta) & (estimate + z * se < delta), "negligible", "uncertain"),
        ),
    )
    return pd.Series(np.where(tested, out, None), index=estimate.index)


def test_practical_verdict_rule_and_coverage(built):
    method, lifts, differences = built
    tested = ~lifts["verdict_fixed"].isin(NOT_TESTED)
    absolute = lifts["metric"] != "visit"
    expected = pd.concat(
        [
            _expected_practical(
                lifts.loc[absolute, "lift_abs"],
                lifts.loc[absolute, "lift_abs_se"],
                lifts.loc[absolute, "min_effect"],
                lifts.loc[absolute, "lift_abs_ci_low_adj"],
                lifts.loc[absolute, "lift_abs_ci_high_adj"],
                tested[absolute],
            ),
            _expected_practical(
                lifts.loc[~absolute, "lift_rel"],
                lifts.loc[~absolute, "lift_rel_se"],
                lifts.loc[~absolute, "min_effect_relative"],
                lifts.loc[~absolute, "lift_rel_ci_low_adj"],
                lifts.loc[~absolute, "lift_rel_ci_high_adj"],
                tested[~absolute],
            ),
        ]
    ).sort_index()
    assert lifts["practical_verdict"].tolist() == expected.tolist()
    tested_d = ~differences["verdict"].isin(NOT_TESTED)
    expected_d = _expected_practical(
        differences["difference"],
        differences["difference_se"],
        differences["practical_threshold"],
        differences["difference_ci_low_adj"],
        differences["difference_ci_high_adj"],
        tested_d,
    )
    assert differences["practical_verdict"].tolist() == expected_d.tolist()
    # the equivalence p-value and the negligible verdict are the same decision
    for frame in (lifts, differences):
        has_p = frame["p_value_equivalence"].notna()
        assert (
            (frame.loc[has_p, "p_value_equivalence"] < ALPHA) == (frame.loc[has_p, "practical_verdict"] == "negligible")
        ).all()
    # a meaningful effect is a significant one, with the same sign
    meaningful = lifts["practical_verdict"].str.startswith("meaningful", na=False) & absolute
    assert (
        lifts.loc[meaningful, "practical_verdict"].str.endswith("positive")
        == (lifts.loc[meaningful, "verdict_fixed"] == "positive")
    ).all()
    assert lifts.loc[meaningful, "verdict_fixed"].isin(["positive", "negative"]).all()
    seen = set(lifts["practical_verdict"].dropna()) | set(differences["practical_verdict"].dropna())
    assert seen == {"meaningful_positive", "meaningful_negative", "negligible", "uncertain"}, seen


def test_no_threshold_means_no_practical_verdict(tmp_path):
    result = run_dbt(["build", "--select", "+hte_segment_lifts", "+hte_segment_differences"], tmp_path)
    assert result.ok, result.output[-6000:]
    lifts = result.table("hte_segment_lifts")
    differences = result.table("hte_segment_differences")
    for frame in (lifts, differences):
        assert frame["practical_verdict"].isna().all() and frame["p_value_equivalence"].isna().all()
    # adjusted intervals do not need a threshold
    assert lifts["lift_abs_ci_low_adj"].notna().sum() > 10


@pytest.mark.parametrize(
    "spec, message",
    [
        (
            {"kind": "binary", "min_effect": 0.01, "min_effect_relative": 0.02},
            "sets both min_effect and min_effect_relative",
        ),
        ({"kind": "binary", "min_effect": -0.01}, "min_effect must be a positive number"),
    ],
)
def test_bad_threshold_fails_with_a_message(tmp_path, spec, message):
    metrics = dict(METRICS, purchase=spec)
    result = run_dbt(["compile", "--select", "hte_segment_lifts"], tmp_path, vars={"hte_metrics": metrics})
    assert not result.ok
    assert message in result.output and "purchase" in result.output


def test_column_quantile_macro_matches_scipy_to_1e_12_relative(tmp_path):
    """hte_normal_quantile_column (per-row p, no correlated subquery) against scipy.stats.norm.ppf over the range
    the scalar macro promises, and null outside (0, 1); the input columns come through unchanged."""
    import duckdb

    from test_sql_macros import _write_project

    sql = "{{ hte_normal_quantile_column('probs', 'p', 'q') }}"
    project = _write_project(tmp_path / "project", {"quantile_column": sql})
    result = run_dbt(["compile"], tmp_path, project_dir=project, timeout=300)
    assert result.ok, result.output[-4000:]
    compiled = (tmp_path / "target" / "compiled" / "dbt_hte" / "analyses" / "quantile_column.sql").read_text()
    lower = np.logspace(-300, np.log10(0.5), 3_001)
    upper = 1 - np.logspace(-16, np.log10(0.5), 1_501)
    p = np.concatenate([lower, upper, [0.025, 0.975, 1 - 0.05 / 40, 0.5]])
    with duckdb.connect() as con:
        con.register("frame", pd.DataFrame({"id": np.arange(len(p)), "p": p}))
        con.execute(
            "create table probs as select * from frame union all select -1, 0.0 union all select -2, 1.0 "
            "union all select -3, null"
        )
        got = con.execute(f"select id, p, q from ({compiled}) order by id").df()
    inside = got[got["id"] >= 0]
    expected = stats.norm.ppf(inside["p"])
    centre = inside["p"] == 0.5
    assert (inside.loc[centre, "q"] == 0).all()
    rel = np.abs(inside.loc[~centre, "q"] - expected[~centre]) / np.abs(expected[~centre])
    assert rel.max() < 1e-12
    assert got.loc[got["id"] < 0, "q"].isna().all()
