"""The report's figures draw what their captions say, and its tables say why two verdicts differ (no dbt:
synthetic rows)."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes

from hte_engine.report import figures
from hte_engine.report.sections import targeting, targeting_agreement, value_per_unit


def _curves(chosen: str | None) -> pd.DataFrame:
    grid = np.linspace(0.0, 1.0, 11)
    rows = []
    for learner in ("constant", "t", "x"):
        for kind in ("qini", "uplift"):
            value = grid * (2.0 if learner == "x" else 1.0)
            rows.append(
                pd.DataFrame(
                    {
                        "learner": learner,
                        "curve": kind,
                        "fraction_targeted": grid,
                        "value": value,
                        "value_ci_low": value - 0.3,
                        "value_ci_high": value + 0.3,
                        "is_chosen": learner == chosen,
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


def test_only_the_chosen_learner_carries_a_band_and_the_axis_names_the_metric(monkeypatch):
    bands, labels = [], []
    original_fill, original_label = Axes.fill_between, Axes.set_ylabel
    monkeypatch.setattr(
        Axes, "fill_between", lambda self, *a, **k: bands.append(k.get("color")) or original_fill(self, *a, **k)
    )
    monkeypatch.setattr(
        Axes, "set_ylabel", lambda self, text, *a, **k: labels.append(text) or original_label(self, text, *a, **k)
    )
    html = figures.uplift_curves(_curves(chosen="x"), "exp: purchase, coupon", "purchase")
    assert html.startswith('<img class="figure"')
    # one band per panel (qini, uplift), in the chosen learner's colour (x is the third learner in sorted order)
    assert bands == [figures.LEARNER_COLORS[2]] * 2
    assert labels == ["incremental purchase (total over the targeted)"]


def test_without_a_chosen_learner_no_band_is_drawn():
    assert figures.banded_learners(_curves(chosen=None)) == set()
    assert figures.banded_learners(_curves(chosen="t")) == {"t"}
    assert figures.banded_learners(_curves(chosen="t").drop(columns=["value_ci_low", "value_ci_high"])) == set()


def test_a_500_character_segment_name_is_shortened_in_the_forest_plot_and_whole_in_its_tooltip(monkeypatch):
    long_name = "segment " + "x" * 492
    lifts = pd.DataFrame(
        {
            "dimension": "plan",
            "segment": [long_name, "basic"],
            "n_treatment": [500, 600],
            "n_control": [510, 590],
            "lift_abs": [0.02, -0.01],
            "lift_abs_ci_low": [0.0, -0.03],
            "lift_abs_ci_high": [0.04, 0.01],
            "verdict": ["positive", "inconclusive"],
        }
    )
    ticks = []
    original = Axes.set_yticks
    monkeypatch.setattr(
        Axes,
        "set_yticks",
        lambda self, y, labels=None, **k: ticks.extend(labels or []) or original(self, y, labels, **k),
    )
    html = figures.forest_plot(lifts, 0.01, "exp: m, t")
    assert len(ticks) == 2 and all(len(label.split("  (n=")[0]) <= figures.LABEL_CHARS for label in ticks)
    assert any(label.startswith("segment xxx") and "…" in label for label in ticks)
    assert f'title="Names shortened in the plot: {long_name}"' in html


def test_a_treated_segment_whose_lift_is_inconclusive_says_why():
    """Issue 14: VIP spend was 'inconclusive' in the forest plot and 'treat' in the targeting table, unexplained."""
    assert targeting_agreement("treat", "positive") == ""
    assert targeting_agreement("hold", "inconclusive") == ""
    assert "treated on economics" in targeting_agreement("treat", "inconclusive")
    segments = pd.DataFrame(
        {
            "experiment_id": "e",
            "metric": "spend",
            "arm": "content",
            "control_arm": "none",
            "dimension": "tier",
            "segment": ["vip", "basic"],
            "n_treatment": 300,
            "n_control": 300,
            "lift_abs": [4.0, 0.1],
            "lift_ci_low": [-0.5, -1.0],
            "lift_ci_high": [8.5, 1.2],
            "benefit_per_unit": 1.0,
            "cost_per_treated": 0.5,
            "break_even_lift": 0.5,
            "net_value": [3.5, -0.4],
            "net_value_ci_low": [0.2, -1.5],
            "net_value_ci_high": [6.8, 0.7],
            "decision": ["treat", "need more data"],
            "reason": [None, "crosses"],
        }
    )
    # the forest plot's lifts of the same two segments: both inconclusive
    lifts = segments[["experiment_id", "metric", "arm", "dimension", "segment"]].assign(verdict="inconclusive")
    html = targeting({"hte_targeting_segments": segments, "hte_segment_lifts": lifts}, "e")
    vip = html[html.index('<td class="text">vip</td>') :]
    vip = vip[: vip.index("</tr>")]
    assert "inconclusive" in vip and "treated on economics" in vip
    basic = html[html.index('<td class="text">basic</td>') :]
    assert "treated on economics" not in basic[: basic.index("</tr>")]


def test_a_benefit_column_is_named_where_the_value_per_unit_would_read_1():
    """Issue 14: coupon_push values purchases at each customer's margin; the targeting table said 'value per unit
    1' beside lifts already in money while the experiment declares 2.50."""
    money = pd.Series({"benefit_per_unit": 1.0, "lift_unit": "money: purchase x margin of each unit"})
    assert value_per_unit(money) == "margin of each unit (lift already in money)"
    assert value_per_unit(pd.Series({"benefit_per_unit": 0.35, "lift_unit": "spend"})) == "0.35"
    # a warehouse built before lift_unit existed still renders
    assert value_per_unit(pd.Series({"benefit_per_unit": 2.5})) == "2.5"
    segments = pd.DataFrame(
        {
            "experiment_id": "e",
            "metric": "purchase",
            "arm": "coupon",
            "control_arm": "none",
            "dimension": "overall",
            "segment": ["all"],
            "n_treatment": 300,
            "n_control": 300,
            "lift_abs": [0.2],
            "lift_ci_low": [0.1],
            "lift_ci_high": [0.3],
            "benefit_per_unit": 1.0,
            "cost_per_treated": 0.09,
            "break_even_lift": 0.09,
            "net_value": [0.11],
            "net_value_ci_low": [0.01],
            "net_value_ci_high": [0.21],
            "decision": ["treat"],
            "reason": [None],
            "lift_unit": "money: purchase x margin of each unit",
        }
    )
    html = targeting({"hte_targeting_segments": segments}, "e")
    assert "Lift and break-even lift count money: purchase x margin of each unit." in html
    assert "margin of each unit (lift already in money)" in html


@pytest.fixture(scope="module")
def fallback_fonts() -> list[str]:
    if len(figures.font_families()) < 3 and os.geteuid() == 0:
        script = Path(__file__).resolve().parents[2] / "scripts" / "install_fonts.sh"
        subprocess.run(["bash", str(script)], check=True, capture_output=True)
    families = figures.font_families()
    if len(families) < 3:
        pytest.fail(f"fallback fonts missing (found {families}): run scripts/install_fonts.sh (as root) first.")
    return families


def test_emoji_and_cjk_segment_names_are_drawn_not_boxes(fallback_fonts):
    """Issue 14 item 7: emoji and CJK segment names rendered as empty boxes. matplotlib warns 'Glyph ... missing
    from font(s)' for every character no family of font.family has; with the fallbacks there is none."""
    lifts = pd.DataFrame(
        {
            "dimension": "fan club",
            "segment": ["🎉 superfans", "北京 customers", "東京", "서울 🚀"],
            "n_treatment": 500,
            "n_control": 510,
            "lift_abs": [0.02, -0.01, 0.0, 0.01],
            "lift_abs_ci_low": [0.0, -0.03, -0.02, -0.01],
            "lift_abs_ci_high": [0.04, 0.01, 0.02, 0.03],
            "verdict": ["positive", "inconclusive", "inconclusive", "inconclusive"],
        }
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figures.forest_plot(lifts, 0.01, "e: m, t 🎯")
    missing = [str(w.message) for w in caught if "missing from font" in str(w.message)]
    assert missing == []
    assert fallback_fonts == ["DejaVu Sans", "Noto Sans CJK JP", "Symbola"]
    # and without the fallbacks the same figure would lose those characters: the check can fail
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import matplotlib.pyplot as plt

        with plt.rc_context({"font.family": ["DejaVu Sans"]}):
            fig, ax = plt.subplots()
            ax.set_title("🎉 北京")
            fig.canvas.draw()
            plt.close(fig)
    assert any("missing from font" in str(w.message) for w in caught)
