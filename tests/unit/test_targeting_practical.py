"""Segment targeting uses practical_verdict of hte_segment_lifts (issue 17): a lift that an equivalence test puts
within the metric's minimum effect worth acting on is not a reason to treat a segment differently.

Economics as in test_targeting_segments: benefit 10 per unit of lift, cost 1 per treated unit, so net = 10 * lift - 1
and its interval is 10 * (lift +- 1.96 se) - 1 (no adjustment)."""

from __future__ import annotations

import pandas as pd
import pytest

from hte_engine.targeting.policies import Economics
from hte_engine.targeting.segments import (
    REASON_CROSSES,
    REASON_LOSES,
    REASON_NEGLIGIBLE,
    REASON_SMALL,
    segment_decisions,
)


def _rows(practical):
    # wins: net 4 +- 0.39 (treat on economics); loses: net -1 +- 0.39; unsure: net 0.2 +- 0.39; tiny: 10 control units
    frame = pd.DataFrame(
        {
            "experiment_id": "e",
            "metric": "y",
            "dimension": "d",
            "arm": "a",
            "control_arm": "c",
            "segment": ["wins", "loses", "unsure", "tiny"],
            "n_treatment": 1000,
            "n_control": [1000, 1000, 1000, 10],
            "lift_abs": [0.5, 0.0, 0.12, 0.5],
            "lift_abs_se": 0.02,
            "verdict": None,
        }
    )
    if practical is not None:
        frame["practical_verdict"] = practical
    return frame


def _decide(frame):
    economics = Economics("e", "c", "y", cost_per_treated={"a": 1.0}, benefit_per_unit=10.0)
    return segment_decisions(frame, economics, adjustment="none", min_segment_size=100).set_index("segment")


def test_a_negligible_lift_is_held_even_when_it_would_pay():
    table = _decide(_rows(["negligible", "negligible", "negligible", "negligible"]))
    assert table.loc["wins", "decision"] == "hold"
    assert table.loc["wins", "reason"] == REASON_NEGLIGIBLE
    # an interval that crosses break-even is settled too: more data would not make a negligible lift worth acting on
    assert (table.loc["unsure", "decision"], table.loc["unsure", "reason"]) == ("hold", REASON_NEGLIGIBLE)
    # the stronger reasons keep precedence: losing money everywhere, and a segment too small to judge
    assert (table.loc["loses", "decision"], table.loc["loses", "reason"]) == ("hold", REASON_LOSES)
    assert (table.loc["tiny", "decision"], table.loc["tiny", "reason"]) == ("need more data", REASON_SMALL)
    assert (table["segment_decision"] == "hold").loc[["wins", "unsure"]].all()


@pytest.mark.parametrize(
    "practical", [None, [None] * 4, ["meaningful_positive", "uncertain", "uncertain", "uncertain"]]
)
def test_without_a_negligible_verdict_the_economics_decide(practical):
    """No column (value lifts), no threshold (null), or a verdict other than negligible: decisions as before."""
    table = _decide(_rows(practical))
    assert table.loc["wins", "decision"] == "treat" and pd.isna(table.loc["wins", "reason"])
    assert (table.loc["loses", "decision"], table.loc["loses", "reason"]) == ("hold", REASON_LOSES)
    assert (table.loc["unsure", "decision"], table.loc["unsure", "reason"]) == ("need more data", REASON_CROSSES)
    assert table.loc["tiny", "decision"] == "need more data"
