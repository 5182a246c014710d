"""The policy loop on the bundled demo, end to end: `make demo-loop` (issue 15, docs/population.md).

Cycle 1, deploy: examples/policy_loop (a user's project that installs dbt_hte by path) builds the demo experiments
and a population of 20,000 customers who were never in them, drawn with a known truth by
hte_engine.demo.population. hte_population_targeting decides for each of them under an eligibility rule; a seeded
hash holds 10% of the eligible out (business as usual: no coupon) and explores 5%; hte_population_assignments is
the policy test in the shape of the next experiment's inputs.

Between the cycles the test runs: each customer's purchase is drawn from the same process given the coupon they
actually received (hte_engine.demo.population.follow_up_inputs), so the policy's true lift over the holdout is
known.

Cycle 2, measure: the policy test is the next build's experiment; hte_segment_lifts reports the lift of the
`policy` group over `holdout`, printed here beside its true value. Warehouses and inputs land in target/policy_loop/.

    python scripts/demo_policy_loop.py [--workdir target/policy_loop] [--population 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from hte_engine.demo.population import follow_up_inputs, generate_population, write_inputs

REPO = Path(__file__).resolve().parent.parent
PROJECT = REPO / "examples" / "policy_loop"
FOLLOW_UP = "coupon_push_policy_test"
POLICY_VARS = {
    "hte_run_date": "2026-04-01",
    "hte_population_eligibility_rule": "tenure_days >= 60",
    "hte_population_eligibility_reason": "customer for less than 60 days",
    "hte_population_holdout_share": 0.10,
    "hte_population_exploration_share": 0.05,
}
CYCLE_ONE = (
    "+hte_population_targeting +hte_population_assignments +hte_population_followup_arms "
    "hte_population_decisions hte_deployment_run_history"
)


def dbt(args: list[str], workdir: Path, database: Path, vars: dict) -> None:
    env = {
        **os.environ,
        "DBT_HTE_DUCKDB_PATH": str(database),
        "DBT_PROFILES_DIR": str(REPO),
        "DBT_TARGET_PATH": str(workdir / "target"),
        "DBT_LOG_PATH": str(workdir / "logs"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(PROJECT)]
    if vars:
        command += ["--vars", json.dumps(vars)]
    print("$", " ".join(command[:2]), "...", flush=True)
    subprocess.run(command, env=env, check=True)


def query(database: Path, sql: str):
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql).df()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=REPO / "target" / "policy_loop")
    parser.add_argument("--population", type=int, default=20_000, help="customers to decide for")
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    population, truth = generate_population(args.population)

    # Cycle 1: deploy the coupon policy on customers who were never in the experiment.
    first_db = workdir / "cycle_1.duckdb"
    first_db.unlink(missing_ok=True)
    inputs = write_inputs(workdir / "cycle_1_inputs", population, seeds_dir=REPO / "seeds" / "demo")
    dbt(["deps"], workdir, first_db, {})
    dbt(["build", "--select", CYCLE_ONE], workdir, first_db, {"pop_dir": str(inputs), **POLICY_VARS})
    decisions = query(
        first_db,
        "select holdout_group, decision, reason_code, cast(sum(n_units) as bigint) as n_units "
        "from main.hte_population_decisions where experiment_id = 'coupon_push' "
        "group by all order by 1, 2, 3",
    )
    assignments = query(first_db, f"select * from main.hte_population_assignments where experiment_id = '{FOLLOW_UP}'")
    arms = query(first_db, f"select * from main.hte_population_followup_arms where experiment_id = '{FOLLOW_UP}'")

    # The test runs: purchases drawn from the known truth given the coupon each customer received.
    follow_up = follow_up_inputs(assignments, arms, population, truth)
    expected = follow_up["expected_lift"]["expected_lift"].iloc[0]

    # Cycle 2: the policy test is the next experiment, measured with the package's own lifts and checks.
    second_db = workdir / "cycle_2.duckdb"
    second_db.unlink(missing_ok=True)
    inputs = write_inputs(workdir / "cycle_2_inputs", population, demo=follow_up)
    dbt(
        ["build", "--select", "+hte_segment_lifts +hte_checks"],
        workdir,
        second_db,
        {
            "pop_dir": str(inputs),
            "hte_targeting_population": None,
            "hte_contact_history": None,
            "hte_metrics": {"purchase": {"kind": "binary"}},
            "hte_segment_columns": ["customer_type", "device"],
            "hte_feature_columns": ["customer_type", "visits_per_month", "device", "tenure_days"],
        },
    )
    lift = query(second_db, "select * from main.hte_segment_lifts where dimension = 'overall' and arm = 'policy'")
    srm = query(
        second_db,
        f"select status from main.hte_checks where experiment_id = '{FOLLOW_UP}' "
        "and check_name = 'sample_ratio_mismatch'",
    )

    row = lift.iloc[0]
    print("\nCycle 1: coupon_push deployed on", f"{len(population):,}", "new customers (hte_population_decisions):")
    print(decisions.to_string(index=False))
    print(
        "\nThe policy test (hte_population_assignments):",
        ", ".join(f"{arm} {n:,}" for arm, n in assignments["arm"].value_counts().sort_index().items()),
    )
    print(
        f"\nCycle 2: lift of the policy over the holdout on purchase: {100 * row['lift_abs']:+.2f} pp "
        f"(95% CI {100 * row['lift_abs_ci_low']:+.2f} to {100 * row['lift_abs_ci_high']:+.2f} pp, "
        f"verdict {row['verdict']}); true value {100 * expected:+.2f} pp; sample-ratio check "
        f"{srm['status'].iloc[0]}."
    )
    covered = row["lift_abs_ci_low"] <= expected <= row["lift_abs_ci_high"]
    print("The interval", "covers" if covered else "MISSES", "the true value.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
