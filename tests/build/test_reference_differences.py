"""hte_segment_differences on the demo equals the segment's Welch lift minus the Welch lift of the rest of its
dimension, both computed by pandas from unit rows (the rest is every other unit of the experiment, not a
subtraction of sums). Tolerances: counts and labels exact, floats 1e-9 relative (reference.py)."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

import reference as ref


def test_differences_match_reference(demo_build):
    ref.assert_agrees(ref.compare_built_mart(demo_build, ref.demo_reference(), "hte_segment_differences"))


def test_differences_have_no_overall_row(demo_build):
    assert not (demo_build.table("hte_segment_differences")["dimension"] == "overall").any()


def test_reference_difference_se_is_quadrature_of_two_welch_ses():
    expected = ref.demo_reference()
    long = expected["long"]
    for row in expected["hte_segment_differences"].itertuples():
        part = long[ref.shares_key(long, row, ["experiment_id", "metric", "dimension"])]
        inside = part["segment"] == row.segment
        ses = []
        for units in (part[inside], part[~inside]):
            cm = CompareMeans(
                DescrStatsW(units.loc[units["arm"] == row.arm, "y"].to_numpy()),
                DescrStatsW(units.loc[units["arm"] == row.control_arm, "y"].to_numpy()),
            )
            ses.append(cm.std_meandiff_separatevar)
        assert row.difference_se == pytest.approx(np.hypot(*ses), rel=1e-12)
        assert row.n_rest_treatment == int(((~inside) & (part["arm"] == row.arm)).sum())
