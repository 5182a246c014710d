"""The terminal summary shows, beside each verdict, the interval that matches it (issue 14 item 6), percentage
points for binary metrics (item 7) and the practical verdict where a threshold is set (issue 17)."""

from __future__ import annotations

import pandas as pd

from hte_engine.report.summary import summarize


def _lifts(**extra) -> pd.DataFrame:
    # a binary metric: overall plus one segment whose plain interval excludes 0 but whose adjusted one does not
    frame = pd.DataFrame(
        {
            "experiment_id": "e",
            "metric": "m",
            "arm": "t",
            "control_arm": "c",
            "dimension": ["overall", "band"],
            "segment": ["all", "low"],
            "n_treatment": [2000, 1000],
            "n_control": [2000, 1000],
            "mean_treatment": [0.30, 0.32],
            "mean_control": [0.25, 0.26],
            "lift_abs": [0.05, 0.06],
            "lift_abs_ci_low": [0.02, 0.004],
            "lift_abs_ci_high": [0.08, 0.116],
            "verdict": ["positive", "inconclusive"],
        }
    )
    return frame.assign(**extra)


def test_segments_show_the_adjusted_interval_in_points():
    text = summarize(_lifts(lift_abs_ci_low_adj=[0.02, -0.01], lift_abs_ci_high_adj=[0.08, 0.13]))
    assert "overall effect   +5.00 pp [+2.00, +8.00]  (positive, n = 2,000 vs 2,000)" in text
    assert "band = low: +6.00 pp [-1.00, +13.00] adj.  (inconclusive)" in text
    assert "+0.40" not in text  # the unadjusted bound that contradicted the verdict is not shown
    assert "adjusted for multiple testing" in text


def test_without_adjusted_columns_the_plain_interval_is_shown():
    text = summarize(_lifts())
    assert "band = low: +6.00 pp [+0.40, +11.60]  (inconclusive)" in text


def test_practical_and_sequential_verdicts():
    text = summarize(
        _lifts(
            lift_abs_ci_low_adj=[0.02, -0.01],
            lift_abs_ci_high_adj=[0.08, 0.13],
            practical_verdict=["meaningful_positive", None],
            verdict_fixed=["positive", "inconclusive"],
            verdict_basis="sequential",
            verdict=["inconclusive", "inconclusive"],
        )
    )
    assert "(positive; sequential: inconclusive; practically meaningful positive, n = 2,000" in text
    assert "adj.  (inconclusive; sequential: inconclusive)" in text
