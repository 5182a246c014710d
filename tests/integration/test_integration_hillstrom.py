"""dbt_hte installed the way users install it, built on a real experiment: Hillstrom's e-mail test.

integration_tests/ is a user's dbt project: dbt_hte comes from packages.yml, four models map the raw CSV onto the
input contract, and vars configure the analysis. It is built once per session (`dbt deps` + `dbt build`, with a
private DuckDB file), then checked against independent sources of truth:

- the arm-level figures published with the data (shared data README), to the printed precision;
- the reference computation of tests/reference.py, fed by pandas straight from the CSV (never from a dbt table):
  counts and labels exact, floats 1e-9 relative (with a 1e-12 absolute floor for signed quantities);
- statsmodels' OLS with HC1 errors on the CSV's unit rows for the marginal interaction regressions (1e-9 relative);
- the design: three arms randomised in equal thirds, so no sample-ratio mismatch or imbalance may be flagged.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import yaml
from scipy import stats

import reference as ref
from dbt_runner import REPO, DbtResult, missing_data_reason, run_dbt, run_deps

PROJECT = REPO / "integration_tests"
EXPERIMENT = "hillstrom_email"
ARMS = {"No E-Mail": "no_email", "Mens E-Mail": "mens_email", "Womens E-Mail": "womens_email"}
METRICS = ("visit", "conversion", "spend")
FEATURES = ("recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie", "channel")

# Published with the data (No / Womens / Mens e-mail), as printed: metric -> (scale, decimals, figures by arm).
PUBLISHED = {
    "visit": (100, 2, {"no_email": "10.62", "womens_email": "15.14", "mens_email": "18.28"}),
    "conversion": (100, 3, {"no_email": "0.573", "womens_email": "0.884", "mens_email": "1.253"}),
    "spend": (1, 3, {"no_email": "0.653", "womens_email": "1.077", "mens_email": "1.423"}),
}


def hillstrom_csv() -> Path:
    """The CSV the integration project reads: the same env var and the same default, relative to the project."""
    return (PROJECT / os.environ.get("HTE_SHARED_DATA_DIR", "../../shared/data") / "hillstrom.csv").resolve()


# A dbt build of 64,000 units and a pandas reference of every mart: about a minute in all, so -m "not slow" skips it.
# The data are not in the repository: without them (a clone with no shared folder beside it) every test here skips
# with one line; in CI they are there and every test runs.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not hillstrom_csv().is_file(), reason=missing_data_reason(hillstrom_csv())),
]


def project_config() -> dict:
    """The vars dbt_hte sees in the integration project: the package defaults, overridden by the project's."""
    project_vars = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]
    return {**ref.project_vars(), **project_vars}


def hillstrom_inputs(csv: Path, assigned_at: str) -> dict[str, pd.DataFrame]:
    """The four contract inputs built by pandas from the CSV, as the integration models define them."""
    raw = pd.read_csv(csv)
    unit_id = pd.Series(range(1, len(raw) + 1), index=raw.index).astype(str)
    assigned = pd.Timestamp(assigned_at)
    assignments = pd.DataFrame(
        {"experiment_id": EXPERIMENT, "unit_id": unit_id, "arm": raw["segment"].map(ARMS), "assigned_at": assigned}
    )
    features = raw[list(FEATURES)].assign(experiment_id=EXPERIMENT, unit_id=unit_id, features_at=assigned)
    outcomes = pd.concat(
        [
            pd.DataFrame(
                {"experiment_id": EXPERIMENT, "unit_id": unit_id, "metric": metric, "value": raw[metric].astype(float)}
            )
            for metric in METRICS
        ],
        ignore_index=True,
    )
    experiments = pd.DataFrame(
        {
            "experiment_id": EXPERIMENT,
            "arm": list(ARMS.values()),
            "is_control": [arm == "no_email" for arm in ARMS.values()],
            "expected_share": 1 / 3,
        }
    )
    return {"assignments": assignments, "unit_features": features, "outcomes": outcomes, "experiments": experiments}


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Path:
    """`dbt deps` in the integration project: installs dbt_hte from the local path, offline."""
    workdir = tmp_path_factory.mktemp("hillstrom_deps")
    # under the lock, and not again when another test's build already installed it (and may be using it)
    deps = run_deps(PROJECT, workdir, unless_installed=True)
    assert deps is None or deps.ok, deps.output[-3000:]
    assert (PROJECT / "dbt_packages" / "dbt_hte" / "dbt_project.yml").exists(), deps and deps.output[-3000:]
    return workdir


@pytest.fixture(scope="session")
def hillstrom_build(installed, tmp_path_factory) -> DbtResult:
    result = run_dbt(["build"], tmp_path_factory.mktemp("hillstrom_build"), project_dir=PROJECT)
    assert result.ok, result.output[-6000:]
    return result


@pytest.fixture(scope="session")
def reference_tables() -> dict[str, pd.DataFrame]:
    config = project_config()
    return ref.reference_tables(hillstrom_inputs(hillstrom_csv(), config["hillstrom_assigned_at"]), config)


def built_relations(result: DbtResult) -> set[str]:
    names = result.query("select table_name from information_schema.tables where table_schema = 'main'")
    return set(names["table_name"])


def require_mart(result: DbtResult, name: str) -> None:
    """A mart still being written is skipped by name; a mart whose model exists must have been built."""
    sources = [
        REPO / "models" / "marts" / f"{name}.sql",
        REPO / "python_models" / f"{name}.py",
        REPO / "python_models" / f"{name}.sql",
    ]
    if not any(path.exists() for path in sources):
        pytest.skip(f"no model {name} in models/marts or python_models yet")
    assert name in built_relations(result), f"model {name} exists but the integration build left no {name} table"


# ---------------------------------------------------------------------------------------------------------------
# Installed as a package
# ---------------------------------------------------------------------------------------------------------------


def test_demo_seeds_are_not_built_in_a_user_project(hillstrom_build):
    # the build's own directory: dbt ls reuses its parse state instead of parsing the project again
    listed = run_dbt(
        ["ls", "--resource-type", "seed", "--resource-type", "model", "--output", "name"],
        hillstrom_build.db_path.parent,
        project_dir=PROJECT,
    )
    assert listed.ok, listed.output[-3000:]
    assert "hillstrom_customers" in listed.output and "hte_segment_stats" in listed.output, listed.output[-3000:]
    assert "hte_demo_" not in listed.output, "dbt ls lists the demo seeds in a project that sets its own inputs"
    assert not {t for t in built_relations(hillstrom_build) if t.startswith("hte_demo_")}


def test_staging_holds_every_customer_with_its_own_row_of_the_csv(hillstrom_build):
    raw = pd.read_csv(hillstrom_csv())
    assignments = hillstrom_build.table("stg_hte_assignments")
    assert len(assignments) == len(raw) and assignments["unit_id"].is_unique
    assert set(assignments["experiment_id"]) == {EXPERIMENT}
    arm_counts = assignments["arm"].value_counts().to_dict()
    assert arm_counts == raw["segment"].map(ARMS).value_counts().to_dict()

    experiments = hillstrom_build.table("stg_hte_experiments").set_index("arm")
    assert set(experiments.index) == set(ARMS.values())
    assert experiments.loc[experiments["is_control"]].index.tolist() == ["no_email"]
    assert experiments["expected_share"].sum() == pytest.approx(1, abs=1e-12)

    outcomes = hillstrom_build.table("stg_hte_outcomes")
    assert outcomes.groupby("metric").size().to_dict() == {metric: len(raw) for metric in METRICS}

    # unit_id k must carry row k of the file: compare every feature and outcome of every unit with the CSV
    features = hillstrom_build.table("stg_hte_unit_features")
    features = features.assign(row=features["unit_id"].astype(int) - 1).set_index("row").sort_index()
    pd.testing.assert_frame_equal(
        features[list(FEATURES)], raw[list(FEATURES)], check_dtype=False, check_names=False, check_index_type=False
    )
    wide = outcomes.pivot(index="unit_id", columns="metric", values="value")
    wide.index = wide.index.astype(int) - 1
    pd.testing.assert_frame_equal(
        wide.sort_index()[list(METRICS)], raw[list(METRICS)].astype(float), check_names=False, check_index_type=False
    )


def test_a_csv_from_the_env_var_folder_is_read_and_an_unknown_arm_stops_the_build(installed, tmp_path, monkeypatch):
    raw = pd.read_csv(hillstrom_csv(), nrows=600)
    raw.loc[4, "segment"] = "Kids E-Mail"
    raw.to_csv(tmp_path / "hillstrom.csv", index=False)
    monkeypatch.setenv("HTE_SHARED_DATA_DIR", str(tmp_path))
    result = run_dbt(["build", "--select", "+stg_hte_assignments"], tmp_path / "run", project_dir=PROJECT)
    assert not result.ok, "a segment outside the three e-mails was mapped to an arm"
    assert "experiment 'hillstrom_email', column 'arm'" in result.output, result.output[-3000:]
    assert "Kids E-Mail" in result.output, result.output[-3000:]


# ---------------------------------------------------------------------------------------------------------------
# The published figures
# ---------------------------------------------------------------------------------------------------------------


def test_overall_arm_means_reproduce_the_published_figures(hillstrom_build):
    stats = hillstrom_build.table("hte_segment_stats")
    overall = stats[(stats["dimension"] == "overall") & (stats["segment"] == "all")]
    for metric, (scale, decimals, figures) in PUBLISHED.items():
        means = overall[overall["metric"] == metric].set_index("arm")["mean_y"]
        printed = {arm: f"{means[arm] * scale:.{decimals}f}" for arm in figures}
        assert printed == figures, f"{metric}: built {printed}, published {figures}"


def test_overall_lifts_reproduce_the_published_figures(hillstrom_build):
    require_mart(hillstrom_build, "hte_segment_lifts")
    lifts = hillstrom_build.table("hte_segment_lifts")
    overall = lifts[(lifts["dimension"] == "overall") & (lifts["segment"] == "all")]
    assert len(overall) == 2 * len(METRICS) and set(overall["control_arm"]) == {"no_email"}
    for metric, (scale, decimals, figures) in PUBLISHED.items():
        rows = overall[overall["metric"] == metric].set_index("arm")
        printed = {arm: f"{rows.loc[arm, 'mean_treatment'] * scale:.{decimals}f}" for arm in rows.index}
        printed["no_email"] = {f"{m * scale:.{decimals}f}" for m in rows["mean_control"]}.pop()
        assert printed == figures, f"{metric}: built {printed}, published {figures}"
        # the lift is the difference of the published means, up to their rounding
        for arm in rows.index:
            published_lift = (float(figures[arm]) - float(figures["no_email"])) / scale
            assert rows.loc[arm, "lift_abs"] == pytest.approx(published_lift, abs=10**-decimals / scale)


# ---------------------------------------------------------------------------------------------------------------
# Every SQL mart against the independent reference
# ---------------------------------------------------------------------------------------------------------------


def test_segment_stats_match_reference(hillstrom_build, reference_tables):
    ref.assert_agrees(ref.compare_built_mart(hillstrom_build, reference_tables, "hte_segment_stats"))


def test_segment_lifts_match_reference(hillstrom_build, reference_tables):
    require_mart(hillstrom_build, "hte_segment_lifts")
    lifts = hillstrom_build.table("hte_segment_lifts")
    expected = reference_tables["hte_segment_lifts"]
    # every segment of the six dimensions, for both e-mails and the three metrics, is present and tested
    segmented = expected[expected["dimension"] != "overall"]
    assert set(segmented["dimension"]) == set(project_config()["hte_segment_columns"])
    assert not segmented["is_too_small"].any() and segmented["p_value"].notna().all()
    ref.assert_agrees(ref.compare_mart("hte_segment_lifts", lifts, expected))


def test_segment_differences_match_reference(hillstrom_build, reference_tables):
    require_mart(hillstrom_build, "hte_segment_differences")
    ref.assert_agrees(ref.compare_built_mart(hillstrom_build, reference_tables, "hte_segment_differences"))


def test_dimension_tests_match_reference(hillstrom_build, reference_tables):
    require_mart(hillstrom_build, "hte_dimension_tests")
    ref.assert_agrees(ref.compare_built_mart(hillstrom_build, reference_tables, "hte_dimension_tests"))


def test_marginal_interaction_regressions_match_statsmodels_on_units(hillstrom_build):
    """Per metric × e-mail × dimension: OLS of y on segment indicators and segment × treatment on the CSV's unit
    rows, HC1 errors. Each segment's effect (β1 + β3 of that segment) is a coefficient of this parameterisation,
    which spans the same columns as dbt_hte's reference-level one, so estimates and sandwich errors coincide; the
    Wald test of equal effects across segments is the test that every interaction is 0."""
    require_mart(hillstrom_build, "hte_interaction_regressions")
    table = hillstrom_build.table("hte_interaction_regressions")
    marginal = table[(table["model"] == "marginal") & (table["experiment_id"] == EXPERIMENT)]
    raw = pd.read_csv(hillstrom_csv())
    raw["arm"] = raw["segment"].map(ARMS)
    for metric in METRICS:
        for arm in ("mens_email", "womens_email"):
            units = raw[raw["arm"].isin([arm, "no_email"])]
            treated = (units["arm"] == arm).to_numpy(float)
            for dimension in project_config()["hte_segment_columns"]:
                levels = sorted(units[dimension].astype(str).unique())
                member = (units[dimension].astype(str).to_numpy()[:, None] == np.array(levels)).astype(float)
                design = np.hstack([member, member * treated[:, None]])
                fit = sm.OLS(units[metric].to_numpy(float), design).fit(cov_type="HC1")
                k = len(levels)
                contrasts = np.hstack([np.zeros((k - 1, k)), np.eye(k)[1:] - np.eye(k)[0]])
                wald = fit.wald_test(contrasts, scalar=True, use_f=False)

                rows = marginal[
                    (marginal["metric"] == metric) & (marginal["arm"] == arm) & (marginal["dimension"] == dimension)
                ]
                effects = rows[rows["role"] == "segment_effect"].set_index("segment").loc[levels]
                assert (effects["status"] == "ok").all() and (effects["n_units"] == len(units)).all()
                where = f"{metric} {arm} {dimension}"
                np.testing.assert_allclose(effects["estimate"], fit.params[k:], rtol=1e-9, atol=1e-12, err_msg=where)
                np.testing.assert_allclose(effects["std_error"], fit.bse[k:], rtol=1e-9, err_msg=where)
                np.testing.assert_allclose(effects["p_value"], fit.pvalues[k:], rtol=1e-9, err_msg=where)
                joint = rows[rows["role"] == "joint_test"]
                assert len(joint) == 1 and joint["df"].iloc[0] == k - 1, where
                np.testing.assert_allclose(joint["statistic"].iloc[0], float(wald.statistic), rtol=1e-9, err_msg=where)
                np.testing.assert_allclose(
                    joint["p_value"].iloc[0], stats.chi2.sf(float(wald.statistic), k - 1), rtol=1e-9, err_msg=where
                )


# ---------------------------------------------------------------------------------------------------------------
# Guardrails on a well-randomised experiment
# ---------------------------------------------------------------------------------------------------------------


def test_checks_match_reference_and_flag_no_sample_ratio_mismatch(hillstrom_build, reference_tables):
    require_mart(hillstrom_build, "hte_checks")
    checks = hillstrom_build.table("hte_checks")
    expected = reference_tables["hte_checks"]
    ref.assert_agrees(ref.compare_checks(checks, expected))

    srm = checks[checks["check_name"].str.startswith("sample_ratio_mismatch")]
    overall = srm[srm["check_name"] == "sample_ratio_mismatch"]
    assert len(overall) == 1 and overall["p_value"].iloc[0] > 0.05, overall.to_dict("records")
    alerts = srm[srm["status"] != "pass"]
    assert alerts.empty, f"sample-ratio alerts on randomised data: {alerts.to_dict('records')}"
    # randomisation also balances the pre-treatment segments across arms
    balance = checks[checks["check_name"] == "covariate_balance"]
    assert set(balance["dimension"]) == set(project_config()["hte_segment_columns"])
    assert (checks["status"] != "alert").all(), checks[checks["status"] == "alert"].to_dict("records")
