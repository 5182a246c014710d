"""var hte_on_invalid_experiment: skip (issue 13 item 5): an experiment that breaks an input rule is left out of
every table with an alert row in hte_checks saying why, and the other experiments build as if it were not there.
The default, error, stops the build (tests/build/test_input_contract.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from fixtures import build_fixture, valid_inputs

SELECT = "+hte_segment_lifts +hte_segment_differences +hte_checks"
SKIP = {"hte_on_invalid_experiment": "skip"}


def _experiments(*ids: str) -> dict[str, pd.DataFrame]:
    parts = [valid_inputs(seed=7 + i, experiment_id=e) for i, e in enumerate(ids)]
    return {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in parts[0]}


def _broken_inputs() -> dict[str, pd.DataFrame]:
    """exp_a clean; exp_b declares only its control arm; exp_c has a NaN outcome and late features."""
    frames = _experiments("exp_a", "exp_b", "exp_c")
    exp = frames["experiments"]
    frames["experiments"] = pd.concat(
        [
            exp[exp["experiment_id"] != "exp_b"],
            exp[(exp["experiment_id"] == "exp_b") & exp["is_control"]].assign(expected_share=1.0),
        ],
        ignore_index=True,
    )
    outcomes = frames["outcomes"]
    frames["outcomes"].loc[outcomes.index[(outcomes["experiment_id"] == "exp_c")][:3], "value"] = float("nan")
    features = frames["unit_features"]
    late = features.index[features["experiment_id"] == "exp_c"][:4]
    frames["unit_features"].loc[late, "features_at"] = pd.Timestamp("2026-03-05")
    # exp_b's assignments use its undeclared treatment arm too: a second rule broken by the same experiment
    return frames


@pytest.fixture(scope="module")
def skipped_build(tmp_path_factory):
    result = build_fixture(tmp_path_factory.mktemp("skip"), _broken_inputs(), vars=SKIP, select=SELECT)
    assert result.ok, result.output[-4000:]
    return result


def test_the_valid_experiment_builds_with_the_numbers_it_has_alone(skipped_build, tmp_path):
    alone = build_fixture(tmp_path, _experiments("exp_a"), select=SELECT)
    assert alone.ok, alone.output[-4000:]
    for table in ("hte_segment_stats", "hte_segment_lifts", "hte_segment_differences"):
        got, want = skipped_build.table(table), alone.table(table)
        keys = list(want.columns[:6])
        pd.testing.assert_frame_equal(
            got.sort_values(keys).reset_index(drop=True), want.sort_values(keys).reset_index(drop=True), obj=table
        )


def test_the_invalid_experiments_are_in_no_table(skipped_build):
    for table in (
        "stg_hte_experiments",
        "stg_hte_assignments",
        "stg_hte_unit_features",
        "stg_hte_outcomes",
        "hte_segment_stats",
        "hte_segment_lifts",
    ):
        assert set(skipped_build.table(table)["experiment_id"]) == {"exp_a"}, table
    checks = skipped_build.table("hte_checks")
    assert set(checks.loc[checks["check_name"] != "invalid_experiment_skipped", "experiment_id"]) == {"exp_a"}


def test_each_broken_rule_is_an_alert_that_says_why(skipped_build):
    checks = skipped_build.table("hte_checks")
    skipped = checks[checks["check_name"] == "invalid_experiment_skipped"].set_index(
        ["experiment_id", "dimension", "segment"]
    )
    assert set(skipped.index) == {
        ("exp_b", "hte_experiments", "arm"),  # one arm declared
        ("exp_b", "hte_assignments", "arm"),  # its units in the undeclared treatment arm
        ("exp_c", "hte_outcomes", "value"),  # NaN values
        ("exp_c", "hte_unit_features", "features_at"),  # features observed after assignment
    }, skipped.index.tolist()
    assert (skipped["status"] == "alert").all() and (skipped["severity"] == "warn").all()
    nan_row = skipped.loc[("exp_c", "hte_outcomes", "value")]
    assert nan_row["statistic"] == 3
    assert nan_row["message"].startswith(
        "Experiment exp_c is left out of every table "
        "(var hte_on_invalid_experiment: skip): in hte_outcomes, column value, "
        "3 outcome values are null, NaN or infinite (e.g. unit exp_c_u"
    )
    assert "1 arm is declared (at least two are needed)" in skipped.loc[("exp_b", "hte_experiments", "arm"), "message"]
    assert skipped.loc[("exp_c", "hte_unit_features", "features_at"), "statistic"] == 4
    assert skipped_build.table("hte_skipped_experiments")["experiment_id"].value_counts().to_dict() == {
        "exp_b": 2,
        "exp_c": 2,
    }
    assert "experiment 'exp_c' is skipped (var hte_on_invalid_experiment: skip)" in skipped_build.output


def test_by_default_the_same_inputs_stop_the_build(tmp_path):
    result = build_fixture(tmp_path, _broken_inputs(), select=SELECT)
    assert not result.ok
    assert "dbt_hte input error in hte_experiments: experiment 'exp_b', column 'arm'" in result.output


def test_rows_that_name_no_experiment_still_stop_the_build(tmp_path):
    frames = _experiments("exp_a", "exp_b")
    frames["assignments"].loc[frames["assignments"].index[:2], "experiment_id"] = None
    result = build_fixture(tmp_path, frames, vars=SKIP, select=SELECT)
    assert not result.ok
    assert "experiment '(null)', column 'experiment_id, unit_id, arm, assigned_at'" in result.output
    assert "skip leaves out one experiment at a time; these rows name none" in result.output


def test_an_unknown_mode_is_a_configuration_error(tmp_path):
    result = build_fixture(tmp_path, _experiments("exp_a"), vars={"hte_on_invalid_experiment": "ignore"}, select=SELECT)
    assert not result.ok
    assert "var 'hte_on_invalid_experiment' must be error" in result.output and "got ignore" in result.output
