"""A population with a known truth for the demo's ``coupon_push`` experiment: new customers drawn from the same
data-generating process as the experiment (``demo_data``), who were never in it, to decide for with
``hte_population_targeting`` (issue 15).

Each unit's true coupon effect on purchase is the planted lift of its customer type, so its true net value is
lift x margin - cost: occasional shoppers 0.12 x 2.50 - 0.09 = +0.21 (treat), brand loyalists and premium
connoisseurs -0.09 (hold), deal-hunters 0.08 x 1.10 - 0.09 = -0.002 (hold, by a hair that no estimate from 16,000
units can resolve). The email experiment's features (history_segment, engagement_score, engagement_band) are
empty, as they are for coupon customers in the experiment's own feature table: the email experiment's deployed
models must say so (missing features), not guess.

``follow_up_outcomes`` simulates the policy test a build hands over (``hte_population_assignments``): purchases
drawn from the same process given the coupon each unit actually received, so the follow-up build's lift of the
policy group against the holdout has a known expectation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hte_engine.demo import data as demo_data

DEFAULT_SEED = 20261203
EXPERIMENT = "coupon_push"


def generate_population(
    n: int = 20_000, seed: int = DEFAULT_SEED, features_at: str = "2026-03-31 06:00:00"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(population, truth): ``population`` has unit_id, features_at and the demo's feature columns;
    ``truth`` has unit_id, customer_type, true_effect (of the coupon on purchase) and true_net_value."""
    rng = np.random.default_rng(seed)
    # demo_data's own generator (a private function, used as is so the process cannot drift from the demo's).
    drawn = demo_data._coupon_push(rng, n)
    features = drawn["unit_features"].copy()
    unit_id = demo_data.unit_ids("pop", n, digits=7)
    population = pd.DataFrame(
        {
            "unit_id": unit_id,
            "features_at": pd.Timestamp(features_at),
            "customer_type": features["customer_type"].astype("string").to_numpy(),
            "margin": features["margin"].astype(float).to_numpy(),
            "visits_per_month": features["visits_per_month"].astype(float).to_numpy(),
            "tenure_days": features["tenure_days"].astype("int64").to_numpy(),
            "device": features["device"].astype("string").to_numpy(),
            "history_segment": pd.array([None] * n, dtype="string"),
            "engagement_score": np.full(n, np.nan),
            "engagement_band": pd.array([None] * n, dtype="string"),
        }
    )
    lift = drawn["truth"]["true_effect"].to_numpy(dtype=float)
    cost = demo_data.COUPON_ECONOMICS["cost_per_treated"]
    truth = pd.DataFrame(
        {
            "unit_id": unit_id,
            "customer_type": population["customer_type"].to_numpy(),
            "true_effect": lift,
            "true_net_value": lift * population["margin"].to_numpy() - cost,
        }
    )
    return population, truth


def follow_up_outcomes(
    assignments: pd.DataFrame, truth: pd.DataFrame, seed: int = DEFAULT_SEED + 1, base_rate: float = 0.3
) -> pd.DataFrame:
    """Purchases of the policy test's units: Bernoulli(base_rate + true_effect x got_coupon), one row per unit
    (metric 'purchase'). ``assignments``: hte_population_assignments rows (experiment_id, unit_id, arm,
    treatment_given). The follow-up's policy-vs-holdout lift then has expectation
    mean(true_effect x coupon | policy) - mean(true_effect x coupon | holdout)."""
    rng = np.random.default_rng(seed)
    rows = assignments.merge(truth[["unit_id", "true_effect"]], on="unit_id", how="left")
    coupon = (rows["treatment_given"].astype(str) == "coupon").to_numpy()
    p = base_rate + rows["true_effect"].to_numpy(dtype=float) * coupon
    return pd.DataFrame(
        {
            "experiment_id": rows["experiment_id"].to_numpy(),
            "unit_id": rows["unit_id"].to_numpy(),
            "metric": "purchase",
            "value": (rng.random(len(rows)) < p).astype(float),
        }
    )


def follow_up_inputs(
    assignments: pd.DataFrame, arms: pd.DataFrame, population: pd.DataFrame, truth: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """The policy test as the next build's inputs, its outcomes drawn from the known truth.

    ``assignments`` and ``arms`` are one follow-up experiment's rows of hte_population_assignments and
    hte_population_followup_arms; ``population`` and ``truth`` are ``generate_population``'s. Returns the four
    input relations of the contract (assignments, unit_features, outcomes, experiments) and ``expected_lift``, a
    one-row frame with the true expectation of the policy group's lift over the holdout on purchase."""
    experiment_id = assignments["experiment_id"].iloc[0]
    outcomes = follow_up_outcomes(assignments, truth).assign(pre_value=np.nan)
    features = population[population["unit_id"].isin(assignments["unit_id"])].assign(experiment_id=experiment_id)
    got = assignments.merge(truth, on="unit_id", how="left", validate="one_to_one")
    effect = got["true_effect"] * (got["treatment_given"].astype(str) == "coupon")
    expected = effect[got["arm"] == "policy"].mean() - effect[got["arm"] == "holdout"].mean()
    return {
        "assignments": assignments[["experiment_id", "unit_id", "arm", "assigned_at"]],
        "unit_features": features,
        "outcomes": outcomes,
        "experiments": arms,
        "expected_lift": pd.DataFrame(
            {"experiment_id": [experiment_id], "metric": ["purchase"], "expected_lift": [float(expected)]}
        ),
    }


def write_inputs(
    directory: Path,
    population: pd.DataFrame,
    contacts: pd.DataFrame | None = None,
    demo: dict[str, pd.DataFrame] | None = None,
    seeds_dir: Path | None = None,
) -> Path:
    """Write the Parquet files the policy-loop project reads (examples/policy_loop: assignments, unit_features,
    outcomes, experiments, population, contacts). The experiment relations are ``demo``'s where given, else the
    demo seed CSVs of ``seeds_dir`` as they are; ``contacts`` defaults to an empty contact log."""
    import duckdb  # only where Parquet is written: the engine imports without DuckDB

    directory.mkdir(parents=True, exist_ok=True)
    if contacts is None:
        contacts = pd.DataFrame(
            {
                "unit_id": pd.Series([], dtype="string"),
                "contacted_at": pd.Series([], dtype="datetime64[us]"),
                "channel": pd.Series([], dtype="string"),
            }
        )
    with duckdb.connect() as con:
        for name in ("assignments", "unit_features", "outcomes", "experiments"):
            if demo is not None and name in demo:
                con.register("frame", demo[name])
                con.execute(f"copy frame to '{directory / name}.parquet' (format parquet)")
                con.unregister("frame")
            else:
                csv = Path(seeds_dir) / f"hte_demo_{name}.csv"
                con.execute(
                    f"copy (select * from read_csv_auto('{csv}')) to '{directory / name}.parquet' (format parquet)"
                )
        for name, frame in (("population", population), ("contacts", contacts)):
            con.register("frame", frame)
            con.execute(f"copy frame to '{directory / name}.parquet' (format parquet)")
            con.unregister("frame")
    return directory
