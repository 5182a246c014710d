"""Deploying the policy on a population (issue 15): hte_deployment_runs, hte_population_targeting,
hte_population_drift and the policy test, built by examples/policy_loop on the demo experiments and a
population with a known truth (hte_engine/demo/population.py), plus the bad-input errors of the population
staging models and engine checks that need no dbt."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dbt_runner import run_dbt
from hte_engine import __version__
from hte_engine.demo.population import generate_population
from hte_engine.report import DuckDBReader, build_report
from hte_engine.report.page import num
from hte_engine.targeting.population import psi, unit_hash_uniforms
from population_inputs import DEMO_SEEDS, POPULATION_PROJECT, build_population

N_POPULATION = 20_000
RUN_DATE = "2026-04-01"
HOLDOUT, EXPLORATION, SEED = 0.10, 0.05, 20261203
CAP_VARS = {
    "hte_population_frequency_cap": {"max_contacts": 3, "days": 7},
    "hte_population_eligibility_rule": "tenure_days >= 60",
    "hte_population_eligibility_reason": "customer for less than 60 days",
    "hte_population_holdout_share": HOLDOUT,
    "hte_population_exploration_share": EXPLORATION,
    "hte_population_seed": SEED,
}
POPULATION_MODELS = (
    "+hte_population_targeting +hte_population_drift +hte_population_assignments "
    "+hte_population_followup_arms hte_population_decisions hte_deployment_run_history"
)


def _contacts() -> pd.DataFrame:
    # pop_0000002: three contacts within the 7 days up to the run date (capped); pop_0000005: three, but one
    # falls 8 days before the run date (not capped); both are eligible customers of the demo population.
    return pd.DataFrame(
        {
            "unit_id": ["pop_0000002"] * 3 + ["pop_0000005"] * 3,
            "contacted_at": pd.to_datetime(
                [
                    "2026-03-30 00:00:00",
                    "2026-03-27 00:00:00",
                    "2026-03-26 00:00:01",
                    "2026-03-30 00:00:00",
                    "2026-03-29 00:00:00",
                    "2026-03-24 00:00:00",
                ]
            ),
            "channel": "email",
        }
    )


@pytest.fixture(scope="module")
def population():
    return generate_population(N_POPULATION)


@pytest.fixture(scope="module")
def built(tmp_path_factory, population):
    pop, _ = population
    workdir = tmp_path_factory.mktemp("population_build")
    result = build_population(workdir, pop, _contacts(), select=POPULATION_MODELS, vars=CAP_VARS)
    assert result.ok, result.output[-6000:]
    return result


@pytest.fixture(scope="module")
def targeting(built) -> pd.DataFrame:
    return built.table("hte_population_targeting")


def _rerun(built, tmp_path, select: str, vars: dict, database: Path | None = None):
    """Rebuild ``select`` on a copy of the module's database (its inputs and upstream tables as they are), or of
    ``database``, a later run's, on the module's inputs."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(database or built.db_path, tmp_path / "hte.duckdb")
    inputs = built.db_path.parent / "inputs"
    result = run_dbt(
        ["run", "--select", select],
        tmp_path,
        project_dir=POPULATION_PROJECT,
        vars={"pop_dir": str(inputs), **CAP_VARS, **vars},
    )
    assert result.ok, result.output[-6000:]
    return result


# ---------------------------------------------------------------------------------------------------------------
# Decisions against the known truth
# ---------------------------------------------------------------------------------------------------------------


def test_decisions_follow_the_planted_truth(targeting, population):
    """coupon_push: treating an occasional shopper is worth 0.12 x 2.50 - 0.09 = +0.21, a brand loyalist -0.09.
    Among the policy group's scored units, the first are treated and the second are not (deal-hunters, -0.002,
    and the premium segment are left out: the economics cannot tell them apart from 0 at this sample size)."""
    _, truth = population
    rows = targeting[
        (targeting["experiment_id"] == "coupon_push")
        & (targeting["holdout_group"] == "policy")
        & (targeting["support_status"] == "in_support")
    ].merge(truth, on="unit_id")
    treated = rows.groupby("customer_type")["decision"].apply(lambda d: float((d == "treat").mean()))
    assert treated["occasional_shopper"] > 0.75, treated
    assert treated["brand_loyalist"] < 0.02, treated
    # Every treated unit has a positive expected net value; every held unit of the policy says why.
    policy = targeting[targeting["holdout_group"] == "policy"]
    assert (policy.loc[policy["decision"] == "treat", "expected_net_value"] > 0).all()
    assert policy.loc[policy["decision"] == "hold", "reason"].notna().all()
    below = policy[policy["reason_code"] == "below_threshold"]
    assert len(below) and (below["best_net_value"] <= 0).all()


def test_every_unit_has_one_row_per_experiment_and_a_reason_when_not_treated(targeting, population):
    pop, _ = population
    for experiment_id in ("coupon_push", "email_campaign", "free_shipping"):
        rows = targeting[targeting["experiment_id"] == experiment_id]
        assert sorted(rows["unit_id"]) == sorted(pop["unit_id"])
    not_treated = targeting[targeting["decision"] != "treat"]
    assert not_treated["reason"].notna().all() and not_treated["reason_code"].notna().all()
    assert targeting.loc[targeting["decision"] == "treat", "reason"].isna().all()


def test_ineligible_and_frequency_capped_units_say_which_rule(targeting, population):
    pop, _ = population
    coupon = targeting[targeting["experiment_id"] == "coupon_push"].set_index("unit_id")
    young = set(pop.loc[pop["tenure_days"] < 60, "unit_id"])
    assert young and set(coupon.index[coupon["reason_code"] == "ineligible"]) == young
    assert (coupon.loc[list(young), "reason"] == "ineligible: customer for less than 60 days").all()
    assert (coupon.loc[list(young), "chosen_arm"] == "control").all()
    capped = coupon[coupon["reason_code"] == "frequency_cap"]
    assert list(capped.index) == ["pop_0000002"]
    assert capped["reason"].iloc[0] == "frequency cap: contacted 3 times in the last 7 days (at most 2 allowed)"
    assert coupon.loc["pop_0000005", "n_recent_contacts"] == 2
    assert not coupon.loc["pop_0000005", "is_frequency_capped"]
    # Neither ineligible nor capped units are in the policy test.
    assert coupon.loc[list(young) + ["pop_0000002"], "followup_arm"].isna().all()


def test_units_outside_the_support_or_missing_features_are_flagged_not_scored(targeting, population):
    pop, _ = population
    seen = pd.read_csv(DEMO_SEEDS / "hte_demo_unit_features.csv")
    seen = seen[seen["experiment_id"] == "coupon_push"]
    outside = pop[
        (pop["tenure_days"] > seen["tenure_days"].max())
        | (pop["visits_per_month"] > seen["visits_per_month"].max())
        | (pop["visits_per_month"] < seen["visits_per_month"].min())
    ]
    coupon = targeting[targeting["experiment_id"] == "coupon_push"].set_index("unit_id")
    flagged = coupon[coupon["support_status"] == "outside_support"]
    assert len(outside) and sorted(flagged.index) == sorted(outside["unit_id"])
    in_policy = flagged[flagged["holdout_group"] == "policy"]
    assert (in_policy["reason_code"] == "outside_support").all()
    assert in_policy["reason"].str.contains("above the experiment's largest value").all()
    assert flagged["predicted_effects"].isna().all() and flagged["best_net_value"].isna().all()
    # email_campaign's models read history_segment and engagement_score, which coupon customers do not have.
    email = targeting[(targeting["experiment_id"] == "email_campaign") & (targeting["holdout_group"] == "policy")]
    assert len(email) and (email["reason_code"] == "missing_features").all()
    assert (
        email["reason"].str.contains("engagement_score").all() and email["reason"].str.contains("history_segment").all()
    )
    assert (email["chosen_arm"] == "no_email").all()


# ---------------------------------------------------------------------------------------------------------------
# The policy test
# ---------------------------------------------------------------------------------------------------------------


def test_holdout_and_exploration_shares_follow_the_seeded_hash(targeting):
    for experiment_id, rows in targeting.groupby("experiment_id"):
        tested = rows[rows["holdout_group"].notna()]
        n = len(tested)
        for group, share in (("holdout", HOLDOUT), ("exploration", EXPLORATION)):
            observed = float((tested["holdout_group"] == group).mean())
            assert abs(observed - share) < 4 * np.sqrt(share * (1 - share) / n), (experiment_id, group, observed)
        # The group is the hash of (seed, experiment, unit id), recomputed here independently of row order.
        u = unit_hash_uniforms(tested["unit_id"], SEED, f"group:{experiment_id}")
        expected = np.where(u < HOLDOUT, "holdout", np.where(u < HOLDOUT + EXPLORATION, "exploration", "policy"))
        assert (tested["holdout_group"].to_numpy() == expected).all()
        held = tested[tested["holdout_group"] == "holdout"]
        assert (held["decision"] == "holdout").all() and held["chosen_arm"].nunique() == 1  # nobody treated
        assert held["chosen_arm"].iloc[0] in ("control", "no_email")
    explored = targeting[
        (targeting["experiment_id"] == "email_campaign") & (targeting["holdout_group"] == "exploration")
    ]
    # Exploration draws among the three arms, control included, whatever the features (missing here).
    shares = explored["chosen_arm"].value_counts(normalize=True)
    assert set(shares.index) == {"no_email", "discount_email", "content_email"}
    assert (abs(shares - 1 / 3) < 4 * np.sqrt(2 / 9 / len(explored))).all(), shares


def test_the_policy_test_is_the_next_experiments_assignments_input(built, targeting):
    assignments = built.table("hte_population_assignments")
    assert list(assignments.columns[:4]) == ["experiment_id", "unit_id", "arm", "assigned_at"]
    assert set(assignments["experiment_id"]) == {
        "coupon_push_policy_test",
        "email_campaign_policy_test",
        "free_shipping_policy_test",
    }
    assert set(assignments["arm"]) == {"policy", "holdout", "exploration"}
    assert (assignments["assigned_at"] == pd.Timestamp(RUN_DATE)).all()
    assert not assignments.duplicated(["experiment_id", "unit_id"]).any()
    assert len(assignments) == int(targeting["holdout_group"].notna().sum())
    arms = built.table("hte_population_followup_arms")
    for _, declared in arms.groupby("experiment_id"):
        assert declared["expected_share"].sum() == pytest.approx(1.0)
        assert declared.loc[declared["is_control"], "arm"].tolist() == ["holdout"]


# ---------------------------------------------------------------------------------------------------------------
# Deployment runs
# ---------------------------------------------------------------------------------------------------------------


def test_deployment_runs_trace_the_fitted_models(built):
    runs = built.table("hte_deployment_runs")
    assert sorted(zip(runs["experiment_id"], runs["metric"], runs["arm"])) == [
        ("coupon_push", "purchase", "coupon"),
        ("email_campaign", "spend", "content_email"),
        ("email_campaign", "spend", "discount_email"),
        ("free_shipping", "purchase", "free_shipping"),
    ]
    assert (runs["status"] == "ok").all() and (runs["run_date"] == RUN_DATE).all()
    assert (runs["package_version"] == __version__).all()
    chosen = built.query("select experiment_id, metric, arm, learner from hte_learner_evaluation where is_chosen")
    merged = runs.merge(chosen, on=["experiment_id", "metric", "arm"], suffixes=("", "_chosen"))
    assert (merged["learner"] == merged["learner_chosen"]).all() and len(merged) == 4
    # The fingerprint is the SHA-256 of 'unit_id<TAB>treated<TAB>y' lines in unit-id order, recomputed here from
    # the seed CSVs.
    assignments = pd.read_csv(DEMO_SEEDS / "hte_demo_assignments.csv")
    outcomes = pd.read_csv(DEMO_SEEDS / "hte_demo_outcomes.csv")
    purchases = outcomes[(outcomes["experiment_id"] == "coupon_push") & (outcomes["metric"] == "purchase")]
    units = assignments[assignments["experiment_id"] == "coupon_push"].merge(
        purchases[["unit_id", "value"]], on="unit_id", how="left", validate="one_to_one"
    )
    units = units.sort_values("unit_id")
    text = "".join(
        f"{u}\t{int(a == 'coupon')}\t{float(v):.17g}\n"
        for u, a, v in zip(units["unit_id"], units["arm"], units["value"].fillna(0.0))
    )
    coupon = runs[runs["experiment_id"] == "coupon_push"].iloc[0]
    assert coupon["training_fingerprint"] == hashlib.sha256(text.encode()).hexdigest()
    assert coupon["n_training_rows"] == len(units)
    assert coupon["model_sha256"][:12] in built.table("hte_population_targeting")["deployment_models"].iloc[0]


def test_deployment_run_history_keeps_every_run_date(built, tmp_path):
    first = built.table("hte_deployment_run_history")
    runs = built.table("hte_deployment_runs")
    assert (first["run_date"] == RUN_DATE).all() and len(first) == len(runs) == 4
    assert "model_blob" not in first.columns and set(first["built_by_invocation"]) != {None}
    pd.testing.assert_frame_equal(
        first.drop(columns="built_by_invocation").sort_values(["experiment_id", "arm"]).reset_index(drop=True),
        runs[first.columns.drop("built_by_invocation")].sort_values(["experiment_id", "arm"]).reset_index(drop=True),
    )
    select = "hte_deployment_runs hte_deployment_run_history"
    next_day = _rerun(built, tmp_path / "next_day", select, {"hte_run_date": "2026-04-02"})
    again = _rerun(built, tmp_path / "again", select, {"hte_run_date": "2026-04-02"}, database=next_day.db_path)
    # no population tonight: no deployment, and the history keeps what it had
    unset = _rerun(
        built,
        tmp_path / "unset",
        select,
        {"hte_run_date": "2026-04-03", "hte_targeting_population": None},
        database=again.db_path,
    )
    for result, dates in (
        (next_day, {RUN_DATE: 4, "2026-04-02": 4}),
        (again, {RUN_DATE: 4, "2026-04-02": 4}),
        (unset, {RUN_DATE: 4, "2026-04-02": 4}),
    ):
        history = result.table("hte_deployment_run_history")
        assert history["run_date"].value_counts().to_dict() == dates
    replaced = again.table("hte_deployment_run_history")
    assert replaced.loc[replaced["run_date"] == "2026-04-02", "built_by_invocation"].nunique() == 1
    assert set(replaced.loc[replaced["run_date"] == "2026-04-02", "built_by_invocation"]) != set(
        next_day.table("hte_deployment_run_history").query("run_date == '2026-04-02'")["built_by_invocation"]
    )
    # the same data, settings and seed refit the same models
    assert set(replaced["model_sha256"].dropna()) == set(first["model_sha256"].dropna())


# ---------------------------------------------------------------------------------------------------------------
# Drift
# ---------------------------------------------------------------------------------------------------------------


def test_drift_sees_what_changed_and_what_did_not(built, population):
    pop, _ = population
    drift = built.table("hte_population_drift").set_index(["experiment_id", "feature"])
    # Same process, new customers: stable.
    assert drift.loc[("coupon_push", "customer_type"), "psi_status"] == "stable"
    assert drift.loc[("coupon_push", "tenure_days"), "psi"] < 0.1
    # The email experiment's customers had a history segment; the coupon population has none.
    row = drift.loc[("email_campaign", "history_segment")]
    assert row["population_missing_share"] == 1.0 and row["experiment_missing_share"] == 0.0
    assert row["psi_status"] == "shifted"
    assert drift.loc[("coupon_push", "(eligibility)"), "eligibility_rate"] == pytest.approx(
        float((pop["tenure_days"] >= 60).mean())
    )
    # pop_0000002, eligible, reached the cap.
    assert drift.loc[("coupon_push", "(eligibility)"), "frequency_capped_rate"] == pytest.approx(1 / N_POPULATION)


def test_decisions_sum_the_unit_table_and_the_report_shows_them_with_the_drift(built, targeting):
    """hte_population_decisions counts hte_population_targeting's rows by group, decision, reason and arm; the
    report's population section of each experiment shows the latest run's decisions and its drift, a shifted
    feature marked as such."""
    decisions = built.table("hte_population_decisions")
    keys = ["experiment_id", "run_date", "holdout_group", "decision", "reason_code", "chosen_arm"]
    # SQL's sum of nothing but nulls (units not scored) is null, not 0
    expected = targeting.groupby(keys, dropna=False).agg(
        n_units=("unit_id", "size"), expected_net_value=("expected_net_value", lambda v: v.sum(min_count=1))
    )
    got = decisions.set_index(keys).sort_index()
    assert len(got) == len(expected) and got["n_units"].sum() == len(targeting)
    pd.testing.assert_series_equal(
        got["n_units"].astype("int64"), expected.sort_index()["n_units"].astype("int64"), check_names=False
    )
    np.testing.assert_allclose(
        got["expected_net_value"].to_numpy(float),
        expected.sort_index()["expected_net_value"].to_numpy(float),
        rtol=1e-9,
        atol=1e-9,
    )

    page = build_report(DuckDBReader(built.db_path))
    sections = re.findall(
        r'data-experiment="([^"]+)".*?(<section class="report-section" data-section="population">'
        r".*?</section>)",
        page,
        flags=re.S,
    )
    shown = dict(sections)
    for experiment_id, rows in targeting.groupby("experiment_id"):
        html = shown[experiment_id]
        assert f"Decisions on {num(len(rows), 9)} units" in html, html[:2000]
        assert "Drift from the experiment" in html
    assert '<span class="badge bad">shifted</span>' in shown["email_campaign"]  # history_segment, all missing


def test_psi_matches_its_formula():
    e, a = np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])
    assert psi(e, a) == pytest.approx((0.4 - 0.5) * np.log(0.8) + (0.4 - 0.3) * np.log(4 / 3))
    assert psi(e, e) == 0.0


# ---------------------------------------------------------------------------------------------------------------
# Determinism, batches and ranking policies
# ---------------------------------------------------------------------------------------------------------------


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["experiment_id", "unit_id"], ignore_index=True)


def test_same_inputs_give_the_same_table_whatever_the_batch_size(built, targeting, tmp_path):
    """Scoring 3,000 units at a time (7 batches) instead of one batch changes nothing: deterministic and
    order-free."""
    again = _rerun(
        built, tmp_path, "int_hte_population_units hte_population_targeting", {"hte_population_batch_size": 3000}
    )
    assert again.query("select max(batch_id) from int_hte_population_units").iloc[0, 0] == 6
    pd.testing.assert_frame_equal(_sorted(again.table("hte_population_targeting")), _sorted(targeting))


def test_capacity_policy_ranks_the_whole_population_across_batches(built, tmp_path):
    capacity = 1500
    again = _rerun(
        built,
        tmp_path,
        "int_hte_population_units hte_population_targeting",
        {"hte_population_batch_size": 3000, "hte_targeting_policy": "capacity", "hte_targeting_capacity": capacity},
    )
    rows = again.table("hte_population_targeting")
    coupon = rows[rows["experiment_id"] == "coupon_push"]
    test_treated = int(
        ((coupon["holdout_group"].isin(["holdout", "exploration"])) & (coupon["chosen_arm"] == "coupon")).sum()
    )
    policy = coupon[coupon["holdout_group"] == "policy"]
    treated = policy[policy["decision"] == "treat"]
    # Exactly the slots left after the policy test's treated units, to the highest values in the population.
    assert len(treated) == capacity - test_treated
    left_out = policy[policy["reason_code"] == "capacity_exhausted"]
    assert len(left_out) and treated["expected_net_value"].min() >= left_out["best_net_value"].max()
    assert (left_out["reason"].str.startswith("capacity exhausted")).all()


def test_unset_population_gives_empty_tables_with_every_column(built, tmp_path):
    again = _rerun(
        built,
        tmp_path,
        "stg_hte_targeting_population+ stg_hte_contact_history+ hte_deployment_runs+",
        {"hte_targeting_population": None, "hte_contact_history": None},
    )
    full = built.table("hte_population_targeting")
    for name in (
        "hte_population_targeting",
        "hte_deployment_runs",
        "hte_population_drift",
        "int_hte_population_units",
        "hte_population_assignments",
    ):
        empty = again.table(name)
        assert len(empty) == 0, name
        assert list(empty.columns) == list(built.table(name).columns), name
    assert len(full) == 3 * N_POPULATION  # one row per experiment x population unit


# ---------------------------------------------------------------------------------------------------------------
# Bad input: the build stops naming the table, the column and an example row
# ---------------------------------------------------------------------------------------------------------------


def _staging_error(tmp_path, population: pd.DataFrame, contacts: pd.DataFrame | None = None) -> str:
    result = build_population(
        tmp_path,
        population,
        contacts,
        select="stg_hte_targeting_population stg_hte_contact_history stg_hte_unit_features "
        "hte_skipped_experiments "
        "pop_population pop_contacts pop_unit_features",
        vars={},
        command="run",
    )
    assert not result.ok, result.output[-3000:]
    return result.output


@pytest.fixture(scope="module")
def small_population():
    pop, _ = generate_population(50, seed=1)
    return pop


def test_duplicate_population_units_are_refused(tmp_path, small_population):
    pop = pd.concat([small_population, small_population.iloc[[3]]], ignore_index=True)
    out = _staging_error(tmp_path, pop)
    assert "hte_targeting_population" in out and "column 'unit_id'" in out
    assert "units have more than one population row (e.g. unit pop_0000004)" in out


def test_a_missing_feature_column_is_refused(tmp_path, small_population):
    out = _staging_error(tmp_path, small_population.drop(columns=["tenure_days"]))
    assert "hte_targeting_population" in out and "column 'tenure_days' is listed in var 'hte_feature_columns'" in out


def test_null_features_at_is_refused(tmp_path, small_population):
    pop = small_population.copy()
    pop.loc[7, "features_at"] = pd.NaT
    out = _staging_error(tmp_path, pop)
    assert "column 'unit_id, features_at'" in out and "null unit_id or features_at (e.g. unit pop_0000008" in out


def test_a_non_boolean_eligibility_column_is_refused(tmp_path, small_population):
    pop = small_population.assign(is_eligible=np.where(np.arange(len(small_population)) % 2 == 0, "yes", "no"))
    out = _staging_error(tmp_path, pop)
    assert "column 'is_eligible' has type" in out and "not boolean" in out
    assert "(e.g. unit pop_0000001: is_eligible = 'yes')" in out


def test_contacts_in_the_future_are_refused(tmp_path, small_population):
    contacts = pd.DataFrame(
        {
            "unit_id": ["pop_0000003", "pop_0000004"],
            "contacted_at": pd.to_datetime(["2026-03-30 00:00:00", "2026-04-02 08:00:00"]),
            "channel": "email",
        }
    )
    out = _staging_error(tmp_path, small_population, contacts)
    assert "hte_contact_history" in out and "column 'contacted_at'" in out
    assert "dated after the run date 2026-04-01 (e.g. unit pop_0000004 contacted at 2026-04-02 08:00:00)" in out


# ---------------------------------------------------------------------------------------------------------------
# The loop: the policy test becomes the next experiment, measured with the package's own lifts
# ---------------------------------------------------------------------------------------------------------------


def test_the_follow_up_experiment_measures_the_policy_against_the_holdout(built, population, tmp_path):
    """hte_population_assignments and hte_population_followup_arms feed the next build as its assignments and
    experiments, with outcomes simulated from the known truth (purchase ~ Bernoulli(0.3 + lift x coupon given)).
    The package's lift of the policy group over the holdout then estimates a known number."""
    from hte_engine.demo.population import follow_up_inputs
    from population_inputs import write_population_inputs

    pop, truth = population
    assignments = built.query(
        "select * from hte_population_assignments where experiment_id = 'coupon_push_policy_test'"
    )
    arms = built.query("select * from hte_population_followup_arms where experiment_id = 'coupon_push_policy_test'")
    follow_up = follow_up_inputs(assignments, arms, pop, truth)
    inputs = write_population_inputs(tmp_path / "inputs", pop, demo=follow_up)
    result = run_dbt(
        ["build", "--select", "+hte_segment_lifts +hte_checks"],
        tmp_path,
        project_dir=POPULATION_PROJECT,
        vars={
            "pop_dir": str(inputs),
            "hte_targeting_population": None,
            "hte_contact_history": None,
            "hte_metrics": {"purchase": {"kind": "binary"}},
            "hte_segment_columns": ["customer_type", "device"],
        },
    )
    assert result.ok, result.output[-6000:]
    lifts = result.query("select * from hte_segment_lifts where dimension = 'overall' and arm = 'policy'")
    assert len(lifts) == 1 and lifts["control_arm"].iloc[0] == "holdout"
    got = assignments.merge(truth, on="unit_id")
    effect = got["true_effect"] * (got["treatment_given"] == "coupon")
    expected = effect[got["arm"] == "policy"].mean() - effect[got["arm"] == "holdout"].mean()
    assert follow_up["expected_lift"]["expected_lift"].iloc[0] == pytest.approx(expected, abs=1e-15)
    assert expected > 0.015  # the policy coupons occasional shoppers: about 0.12 x their share
    row = lifts.iloc[0]
    assert row["lift_abs_ci_low"] <= expected <= row["lift_abs_ci_high"], (row["lift_abs"], expected)
    # The hash split honours the declared shares: the follow-up's sample-ratio check passes.
    srm = result.query(
        "select status from hte_checks where experiment_id = 'coupon_push_policy_test' "
        "and check_name = 'sample_ratio_mismatch'"
    )
    assert srm["status"].tolist() == ["pass"]


def test_calibrated_effects_come_from_the_experiments_deciles(built, targeting, tmp_path):
    from hte_engine.targeting.population import DecileCalibration

    again = _rerun(built, tmp_path, "hte_population_targeting", {"hte_population_calibration": "deciles"})
    rows = again.table("hte_population_targeting")
    coupon = rows[(rows["experiment_id"] == "coupon_push") & rows["predicted_effects"].notna()]
    assert coupon["deployment_models"].str.endswith("(effects calibrated on the experiment's deciles)").all()
    deciles = built.query("select * from hte_uplift_deciles where experiment_id = 'coupon_push' and is_chosen")
    calibrate = DecileCalibration.from_deciles(deciles)
    raw = targeting.set_index(["experiment_id", "unit_id"]).loc[
        list(zip(coupon["experiment_id"], coupon["unit_id"])), "predicted_effects"
    ]
    raw_effect = raw.str.extract(r'"coupon": ([-0-9.e+]+)')[0].astype(float).to_numpy()
    got = coupon["predicted_effects"].str.extract(r'"coupon": ([-0-9.e+]+)')[0].astype(float).to_numpy()
    np.testing.assert_allclose(got, calibrate(raw_effect), rtol=1e-8, atol=1e-9)
    # Calibrated effects are bounded by what the experiment observed (to the 10 digits the JSON column keeps).
    assert got.min() >= deciles["observed_lift"].min() - 1e-9 and got.max() <= deciles["observed_lift"].max() + 1e-9
