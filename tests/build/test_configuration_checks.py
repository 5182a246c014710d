"""Configuration typos are visible: a metric of var hte_metrics with no outcome row in any experiment, or a
segment or feature column with no value for any assigned unit, is an alert row of hte_checks
(metric_not_observed, column_not_observed) and a warning in dbt's log, in words. A column or metric that only one
experiment lacks is normal (experiments measure different things; the demo has both): that stays the info row
dimension_not_observed, never an alert."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

import reference as ref
from dbt_runner import run_dbt
from fixtures import FIXTURE_PROJECT, build_fixture, valid_inputs

METRICS = {"conversion": {"kind": "binary"}, "revenue": {"kind": "continuous"}}


def _checks(result, check_name: str) -> pd.DataFrame:
    checks = result.table("hte_checks")
    return checks[checks["check_name"] == check_name].sort_values(["experiment_id", "dimension"]).reset_index(drop=True)


def test_misspelt_metric_and_empty_columns_alert_and_warn(tmp_path):
    frames = valid_inputs()
    n = len(frames["unit_features"])
    frames["unit_features"]["segment_b"] = pd.array([None] * n, dtype="string")  # a segment column
    frames["unit_features"]["score"] = pd.array([None] * n, dtype="Float64")  # a feature column only
    metrics = {**METRICS, "revnue": {"kind": "continuous"}, "Conversion": {"kind": "binary"}}
    result = build_fixture(tmp_path, frames, select="+hte_checks", vars={"hte_metrics": metrics})
    assert result.ok, result.output[-4000:]

    metric_rows = _checks(result, "metric_not_observed")
    assert list(metric_rows["experiment_id"]) == ["exp_a"]
    row = metric_rows.iloc[0]
    assert (row.status, row.severity, row.statistic) == ("alert", "warn", 2.0)
    assert row.message.startswith("Metrics Conversion, revnue of var hte_metrics have no outcome row in any experiment")

    column_rows = _checks(result, "column_not_observed")
    assert list(column_rows["dimension"]) == ["score", "segment_b"]
    assert (column_rows["status"] == "alert").all() and (column_rows["severity"] == "warn").all()
    messages = dict(zip(column_rows["dimension"], column_rows["message"]))
    assert messages["segment_b"].startswith(
        "Column segment_b of var hte_segment_columns and hte_feature_columns has no value"
    )
    assert messages["score"].startswith("Column score of var hte_feature_columns has no value")
    # the configured names that do have data raise nothing
    assert "segment_a" not in messages and "revenue" not in row.message

    # every row of hte_checks, these included, as the pandas reference (tests/reference.py) finds them
    fixture_vars = yaml.safe_load((FIXTURE_PROJECT / "dbt_project.yml").read_text())["vars"]
    config = {
        **ref.project_vars(),
        **{k: v for k, v in fixture_vars.items() if k.startswith("hte_")},
        "hte_metrics": metrics,
    }
    expected = ref.reference_tables(frames, config)["hte_checks"]
    problems = ref.compare(
        result.table("hte_checks"), expected, ref.CHECK_KEYS, {"status": ref.EXACT}, label="hte_checks"
    )
    problems += ref.compare(
        metric_rows,
        expected[expected["check_name"] == "metric_not_observed"],
        ref.CHECK_KEYS,
        {"statistic": ref.EXACT},
        label="metric_not_observed",
    )
    assert not problems, "\n".join(problems)

    # and dbt's log says it, in the same words, once per column and once for the metrics
    for sentence in (row.message, messages["segment_b"], messages["score"]):
        assert f"dbt_hte configuration warning: {sentence}" in result.output, result.output[-4000:]
    assert result.output.count("dbt_hte configuration warning:") == 3, result.output[-4000:]


def test_a_column_or_metric_one_experiment_lacks_is_info_not_alert(tmp_path):
    """Two experiments: exp_b has no segment_b value and no revenue row, exp_a has both. Nothing is a typo."""
    a, b = valid_inputs(), valid_inputs(seed=8, experiment_id="exp_b")
    b["unit_features"]["segment_b"] = pd.array([None] * len(b["unit_features"]), dtype="string")
    a["unit_features"]["segment_b"] = a["unit_features"]["segment_b"].astype("string")
    b["outcomes"] = b["outcomes"][b["outcomes"]["metric"] != "revenue"]
    frames = {name: pd.concat([a[name], b[name]], ignore_index=True) for name in a}
    result = build_fixture(tmp_path, frames, select="+hte_checks", vars={"hte_metrics": METRICS})
    assert result.ok, result.output[-4000:]

    checks = result.table("hte_checks")
    assert not checks["check_name"].isin(["column_not_observed", "metric_not_observed"]).any(), checks[
        checks["status"] == "alert"
    ].to_dict("records")
    info = _checks(result, "dimension_not_observed")
    assert list(zip(info["experiment_id"], info["dimension"], info["status"])) == [("exp_b", "segment_b", "info")]
    assert "dbt_hte configuration warning" not in result.output


# A var set to a value the package cannot use stops `dbt parse` (so every build) with one sentence naming the var,
# what it must be, and what it was (macros/config/hte_config_error.sql words them all). The population vars are
# read only when a targeting population is set.
POPULATION = {"hte_targeting_population": "hte_demo_unit_features"}
BAD_VARS = [
    ({"hte_alpha": 1.5}, "var 'hte_alpha' must be a number strictly between 0 and 1 (e.g. 0.05); got 1.5."),
    ({"hte_alert_on_learner_choice": "maybe"}, "var 'hte_alert_on_learner_choice' must be true or false; got maybe."),
    ({"hte_cohort_min_units": 1.5}, "var 'hte_cohort_min_units' must be a whole number of units per arm, 2 or more"),
    (
        {**POPULATION, "hte_population_batch_size": 0},
        "var 'hte_population_batch_size' must be a whole number of units >= 1 (e.g. 200000); got 0.",
    ),
    (
        {**POPULATION, "hte_population_frequency_cap": {"max_contacts": 0, "days": 7}},
        "var 'hte_population_frequency_cap' must be {max_contacts: N, days: D} with whole numbers N, D >= 1",
    ),
]


@pytest.mark.parametrize(("bad_vars", "sentence"), BAD_VARS, ids=[list(bad)[-1] for bad, _ in BAD_VARS])
def test_a_var_with_an_unusable_value_stops_the_parse_with_a_sentence(tmp_path, bad_vars, sentence):
    result = run_dbt(["parse"], tmp_path, vars=bad_vars)
    assert not result.ok, "dbt parse accepted " + str(bad_vars)
    assert "dbt_hte configuration error: " + sentence in " ".join(result.output.split()), result.output[-3000:]
