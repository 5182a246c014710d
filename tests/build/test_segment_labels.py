"""A null feature value is segment '(missing)' (dashboards filter on that label); a real value that reads like a
label dbt_hte gives — '(missing)', '(other)', or either inside double quotes — stays its own segment, shown in one
more pair of double quotes (macro hte_segment_value), and is never merged with the label."""

from __future__ import annotations

import pandas as pd

import reference as ref
from fixtures import build_fixture, valid_inputs

# real value written to segment_a -> how many units get it, and the segment it must be shown as
PLANTED = {
    None: (40, "(missing)"),
    "(missing)": (30, '"(missing)"'),
    '"(missing)"': (15, '""(missing)""'),
    "(other)": (10, '"(other)"'),
    '(missing)"': (5, '"(missing)""'),
}


def _inputs() -> dict[str, pd.DataFrame]:
    frames = valid_inputs()
    features = frames["unit_features"]
    features["segment_a"] = features["segment_a"].astype(object)
    start = 0
    for value, (count, _) in PLANTED.items():
        features.loc[features.index[start : start + count], "segment_a"] = value
        start += count
    return frames


def test_a_real_missing_value_stays_its_own_segment(tmp_path):
    frames = _inputs()
    result = build_fixture(tmp_path, frames, select="+hte_segment_stats int_hte_units")
    assert result.ok, result.output[-4000:]

    stats = result.table("hte_segment_stats").query("metric == 'conversion' and dimension == 'segment_a'")
    units_per_segment = stats.groupby("segment")["n"].sum()
    for value, (count, label) in PLANTED.items():
        assert units_per_segment.get(label) == count, (value, label, units_per_segment.to_dict())
    assert "(other)" not in units_per_segment.index, "nothing was folded, yet a segment is labelled (other)"
    assert units_per_segment.sum() == len(frames["assignments"])

    # unit by unit in the unit table the Python models read: the same labels
    units = result.table("int_hte_units").query("metric == 'conversion'").set_index("unit_id")["segment_a"]
    features = frames["unit_features"].set_index("unit_id")["segment_a"]
    expected = {value: label for value, (_, label) in PLANTED.items()}
    for unit_id, value in features.items():
        want = expected.get(value, value) if value is not None else "(missing)"
        assert units[unit_id] == want, (unit_id, value, units[unit_id])

    # the levels and their ranks, as the pandas reference computes them
    levels = result.table("int_hte_segment_levels").query("dimension == 'segment_a'")
    reference = ref.segment_levels(frames, ["segment_a"], 20).query("dimension == 'segment_a'")
    key = ["raw_segment"]
    got = levels.sort_values(key)[["raw_segment", "segment", "n_units", "level_rank"]].reset_index(drop=True)
    want = reference.sort_values(key)[["raw_segment", "segment", "n_units", "level_rank"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        got.astype({"n_units": int, "level_rank": int}),
        want.astype({"n_units": int, "level_rank": int}),
        check_dtype=False,
    )
    assert levels.set_index("raw_segment").loc["(missing)", "level_rank"] == len(levels), "(missing) must rank last"
