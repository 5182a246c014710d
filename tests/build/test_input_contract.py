"""Bad input fails loudly, early, and says what is wrong: the experiment, the column, the problem.

Each case breaks one rule of the input contract on an otherwise clean experiment and asserts that `dbt build`
fails with dbt_hte's message — never builds a number on dirty data. Rules on one input fail its staging model;
rules that need the join of the inputs fail int_hte_raw_cells, which every later model reads.

Each bad build runs, as a nightly job does, on the warehouse of a good build (a copy of it), and the published
tables (hte_*) must come out of the failure exactly as the good build left them: a failed night changes nothing a
dashboard reads. (Which tables are older than the failed run is the build log's business:
tests/build/test_build_log.py.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from dbt_runner import process_temp_dir
from fixtures import build_fixture, valid_inputs

SELECT = "+hte_segment_stats"


_GOOD: dict[str, Path] = {}


def _good_warehouse() -> Path:
    """The DuckDB file of a good build of the clean fixture (once per test process): bad builds start from a copy."""
    if "db" not in _GOOD:
        result = build_fixture(process_temp_dir("hte_good_build_"), valid_inputs(), select=SELECT)
        assert result.ok, result.output[-4000:]
        _GOOD["db"] = result.db_path
    return _GOOD["db"]


def _build(tmp_path, frames, vars=None, *, over_good_build=True):
    good = _good_warehouse() if over_good_build else None
    if good is not None:
        shutil.copyfile(good, tmp_path / good.name)  # the file run_dbt uses in that folder
    result = build_fixture(tmp_path, frames, vars=vars, select=SELECT)
    result.good_warehouse = good
    return result


def published_tables(db_path: Path) -> dict[str, pd.DataFrame]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main' "
                "and table_name like 'hte\\_%' escape '\\' order by 1"
            ).fetchall()
        ]
        return {name: con.execute(f'select * from main."{name}" order by all').df() for name in names}


def _assert_input_error(result, *fragments):
    assert not result.ok, "dbt build succeeded on bad input"
    assert "dbt_hte input error" in result.output or "dbt_hte configuration error" in result.output, result.output[
        -3000:
    ]
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} missing from:\n{result.output[-3000:]}"
    # nothing downstream of staging may have been built on bad data
    assert "OK created sql table model main.hte_segment_stats" not in result.output
    # and the last good build's published tables are untouched
    if result.good_warehouse is None:
        return
    before, after = published_tables(result.good_warehouse), published_tables(result.db_path)
    assert before and list(after) == list(before), (list(before), list(after))
    for name, table in before.items():
        pd.testing.assert_frame_equal(after[name], table, obj=name)


def test_clean_fixture_builds(tmp_path):
    result = _build(tmp_path, valid_inputs())
    assert result.ok, result.output[-4000:]
    stats = result.table("hte_segment_stats")
    assert set(stats.dimension) == {"overall", "segment_a", "segment_b"}


# One row of an input written twice: each input names the key it must be unique on.
@pytest.mark.parametrize(
    ("input_name", "row", "fragments"),
    [
        ("assignments", 3, ("column 'unit_id'", "duplicate assignment rows")),
        ("outcomes", 0, ("column 'metric'", "more than one outcome row")),
        ("unit_features", 4, ("column 'unit_id'", "1 units have more than one feature row", "unit exp_a_u00004")),
    ],
)
def test_a_repeated_input_row_is_refused(tmp_path, input_name, row, fragments):
    frames = valid_inputs()
    frames[input_name] = pd.concat([frames[input_name], frames[input_name].iloc[[row]]])
    _assert_input_error(_build(tmp_path, frames), "experiment 'exp_a'", *fragments)


def test_unit_in_two_arms(tmp_path):
    frames = valid_inputs()
    row = frames["assignments"].iloc[[5]].copy()
    row["arm"] = "treatment" if row["arm"].iloc[0] == "control" else "control"
    frames["assignments"] = pd.concat([frames["assignments"], row])
    _assert_input_error(_build(tmp_path, frames), "experiment 'exp_a'", "column 'arm'", "assigned to more than one arm")


def test_undeclared_arm(tmp_path):
    frames = valid_inputs()
    frames["assignments"].loc[frames["assignments"].index[:10], "arm"] = "mystery"
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'arm'", "not declared in hte_experiments", "arm mystery"
    )


def test_no_control_arm(tmp_path):
    frames = valid_inputs()
    frames["experiments"]["is_control"] = False
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'is_control'",
        "marked as control (exactly one is needed)",
    )


def test_two_control_arms(tmp_path):
    frames = valid_inputs()
    frames["experiments"]["is_control"] = True
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'is_control'", "2 arms are marked as control"
    )


def test_an_experiment_with_a_single_arm(tmp_path):
    """Only the control arm declared: there is nothing to compare, and the build says so (by default it stops; with
    var hte_on_invalid_experiment: skip the other experiments build: tests/build/test_skip_invalid_experiments.py)."""
    frames = valid_inputs()
    experiments = frames["experiments"]
    frames["experiments"] = experiments[experiments["is_control"]].assign(expected_share=1.0)
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'arm'",
        "1 arm is declared (at least two are needed)",
        "only arm: control",
    )


def test_features_observed_after_assignment(tmp_path):
    frames = valid_inputs()
    late = frames["unit_features"].index[:7]
    frames["unit_features"].loc[late, "features_at"] = pd.Timestamp("2026-03-05")
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'features_at'",
        "7 units have features observed after their assignment",
        "post-treatment",
    )


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_metric_value(tmp_path, bad_value):
    frames = valid_inputs()
    frames["outcomes"].loc[frames["outcomes"].index[2], "value"] = bad_value
    _assert_input_error(_build(tmp_path, frames), "experiment 'exp_a'", "column 'value'", "null, NaN or infinite")


def test_partial_pre_period(tmp_path):
    frames = valid_inputs()
    revenue = frames["outcomes"].index[frames["outcomes"].metric == "revenue"]
    frames["outcomes"].loc[revenue[:4], "pre_value"] = np.nan
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'pre_value'",
        "pre_value on some rows and null on others",
    )


def test_expected_shares_not_summing_to_one(tmp_path):
    frames = valid_inputs()
    frames["experiments"]["expected_share"] = [0.5, 0.4]
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'expected_share'",
        "do not sum to 1",
        "shares sum to 0.9",
    )


def test_segment_column_not_in_features(tmp_path):
    frames = valid_inputs()
    result = _build(tmp_path, frames, vars={"hte_segment_columns": ["segment_a", "country"]})
    _assert_input_error(result, "column 'country'", "hte_segment_columns", "has no such column")


def test_binary_metric_with_other_values(tmp_path):
    frames = valid_inputs()
    conversion = frames["outcomes"].index[frames["outcomes"].metric == "conversion"]
    frames["outcomes"].loc[conversion[:3], "value"] = 2.0
    _assert_input_error(_build(tmp_path, frames), "experiment 'exp_a'", "column 'value'", "not 0 or 1")


def test_outcome_for_unassigned_unit(tmp_path):
    frames = valid_inputs()
    stray = frames["outcomes"].iloc[[0]].copy()
    stray["unit_id"] = "nobody"
    frames["outcomes"] = pd.concat([frames["outcomes"], stray])
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'unit_id'", "units with no assignment", "unit nobody"
    )


def test_assigned_unit_without_features(tmp_path):
    frames = valid_inputs()
    frames["unit_features"] = frames["unit_features"].iloc[1:]
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'unit_id'", "assigned units have no feature row"
    )


def test_missing_required_column(tmp_path):
    frames = valid_inputs()
    frames["assignments"] = frames["assignments"].drop(columns=["assigned_at"])
    _assert_input_error(_build(tmp_path, frames), "hte_assignments", "has no column assigned_at")


def test_unknown_metric_kind(tmp_path):
    result = _build(tmp_path, valid_inputs(), vars={"hte_metrics": {"conversion": {"kind": "ratio"}}})
    _assert_input_error(result, "metric 'conversion'", "hte_metrics", "binary or continuous")


def test_identifier_injection_is_quoted(tmp_path):
    """A segment column name is an identifier, never SQL: a hostile name only fails to be found."""
    frames = valid_inputs()
    result = _build(tmp_path, frames, vars={"hte_segment_columns": ['segment_a", 1) --']})
    _assert_input_error(result, "has no such column")


def test_null_experiment_id_in_features(tmp_path):
    """With an experiment_id column, a null would silently apply the row to every experiment: refused."""
    frames = valid_inputs()
    frames["unit_features"].loc[frames["unit_features"].index[:2], "experiment_id"] = None
    _assert_input_error(_build(tmp_path, frames), "column 'experiment_id'", "null experiment_id")


# A null in a key column: the rule names the key columns of its input.
@pytest.mark.parametrize(
    ("input_name", "row", "column", "fragments"),
    [
        (
            "assignments",
            2,
            "arm",
            ("column 'experiment_id, unit_id, arm, assigned_at'", "null key, arm or assigned_at"),
        ),
        ("outcomes", 1, "unit_id", ("column 'experiment_id, unit_id'", "null experiment_id or unit_id")),
    ],
)
def test_a_null_key_is_refused(tmp_path, input_name, row, column, fragments):
    frames = valid_inputs()
    frames[input_name].loc[frames[input_name].index[row], column] = None
    _assert_input_error(_build(tmp_path, frames), "experiment 'exp_a'", *fragments)


def test_propensity_outside_unit_interval(tmp_path):
    frames = valid_inputs()
    frames["assignments"]["propensity"] = 0.5
    frames["assignments"].loc[frames["assignments"].index[:3], "propensity"] = 1.0
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'propensity'", "3 rows have a propensity outside (0, 1)"
    )


@pytest.mark.parametrize("bad_value", [np.inf, -np.inf])
def test_non_finite_pre_value(tmp_path, bad_value):
    frames = valid_inputs()
    revenue = frames["outcomes"].index[frames["outcomes"].metric == "revenue"]
    frames["outcomes"].loc[revenue[:2], "pre_value"] = bad_value
    _assert_input_error(
        _build(tmp_path, frames), "experiment 'exp_a'", "column 'pre_value'", "2 pre-period values are NaN or infinite"
    )


def test_failed_join_check_leaves_nothing_to_read(tmp_path):
    """Rules checked on int_hte_raw_cells (here: an outcome row of an unassigned unit) fail that model: its
    table is dropped, and every model downstream, the Python models included, depends on it and is skipped."""
    frames = valid_inputs()
    stray = frames["outcomes"].iloc[[0]].copy()
    stray["unit_id"] = "nobody"
    frames["outcomes"] = pd.concat([frames["outcomes"], stray])
    # a first build: what does it leave? (the shared units read only validated assignments, but are built after
    # the join check too)
    result = build_fixture(tmp_path, frames, select=f"{SELECT} +int_hte_shared_units")
    result.good_warehouse = None
    _assert_input_error(result, "dbt_hte input error in hte_outcomes", "units with no assignment")
    built = set(result.query("select table_name from information_schema.tables").table_name)
    assert not built & {
        "int_hte_raw_cells",
        "int_hte_segment_levels",
        "hte_cell_stats",
        "int_hte_units",
        "int_hte_shared_units",
    }, built

    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())["nodes"]

    def ancestors(node_id: str) -> set[str]:
        seen, pending = set(), [node_id]
        while pending:
            for parent in manifest.get(pending.pop(), {}).get("depends_on", {}).get("nodes", []):
                if parent not in seen:
                    seen.add(parent)
                    pending.append(parent)
        return seen

    python_models = [
        node_id
        for node_id, node in manifest.items()
        if node["resource_type"] == "model" and node.get("language") == "python"
    ]
    assert python_models
    unguarded = [node_id for node_id in python_models if "model.dbt_hte.int_hte_raw_cells" not in ancestors(node_id)]
    assert unguarded == [], f"Python models that could read unchecked inputs: {unguarded}"


def test_failed_join_check_keeps_the_last_good_tables(tmp_path):
    """The same failure on the warehouse of a good build: the published tables stay the good build's."""
    frames = valid_inputs()
    stray = frames["outcomes"].iloc[[0]].copy()
    stray["unit_id"] = "nobody"
    frames["outcomes"] = pd.concat([frames["outcomes"], stray])
    _assert_input_error(_build(tmp_path, frames), "dbt_hte input error in hte_outcomes", "units with no assignment")


@pytest.mark.parametrize("huge", [1e300, -1e300, 1e31])
def test_outcome_value_too_large_to_square(tmp_path, huge):
    """Finite values whose squares or sums over the units overflow a double (1e300) used to build a wrong lift with
    p = 0; anything beyond the documented bound of 1e30 (macro hte_max_abs_value) is refused, naming the metric
    and a unit of that metric."""
    frames = valid_inputs()
    revenue = frames["outcomes"].index[frames["outcomes"].metric == "revenue"]
    frames["outcomes"].loc[revenue[[3, 8]], "value"] = huge
    unit = frames["outcomes"].loc[revenue[[3, 8]], "unit_id"].min()
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'value'",
        "2 outcome values are larger than 1e30 in magnitude",
        f"metric revenue, unit {unit}",
        "overflow",
    )


def test_pre_value_too_large_to_square(tmp_path):
    frames = valid_inputs()
    revenue = frames["outcomes"].index[frames["outcomes"].metric == "revenue"]
    frames["outcomes"].loc[revenue[5], "pre_value"] = -1e300
    _assert_input_error(
        _build(tmp_path, frames),
        "experiment 'exp_a'",
        "column 'pre_value'",
        "1 pre-period values are larger than 1e30 in magnitude",
        f"metric revenue, unit {frames['outcomes'].loc[revenue[5], 'unit_id']}",
        "overflow",
    )


def test_values_at_the_bound_build_with_finite_statistics(tmp_path):
    """The bound is not tighter than it says: values of ±1e30 on every revenue row build, and the sufficient
    statistics stay finite and equal to numpy's sums (so the refusal above is about overflow, nothing else)."""
    frames = valid_inputs()
    revenue = frames["outcomes"].metric == "revenue"
    sign = np.where(np.arange(revenue.sum()) % 3 == 0, -1.0, 1.0)
    frames["outcomes"].loc[revenue, "value"] = sign * 1e30
    frames["outcomes"].loc[revenue, "pre_value"] = -sign * 1e30
    result = build_fixture(tmp_path, frames, select="+hte_segment_stats")
    assert result.ok, result.output[-4000:]
    stats = result.table("hte_segment_stats").query("metric == 'revenue' and dimension == 'overall'")
    rows = frames["outcomes"][revenue].merge(frames["assignments"], on=["experiment_id", "unit_id"])
    for arm, group in rows.groupby("arm"):
        row = stats.set_index("arm").loc[arm]
        assert np.isfinite(row[["sum_y", "sum_y2", "sum_x2", "sum_xy"]].astype(float)).all(), row
        assert row.sum_y2 == pytest.approx((group.value**2).sum(), rel=1e-12)
        assert row.sum_xy == pytest.approx((group.value * group.pre_value).sum(), rel=1e-12)
