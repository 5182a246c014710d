"""Inputs of examples/policy_loop (the project `make demo-loop` runs): the demo experiments (the seed CSVs as they
are), a population and a contact log, written as Parquet files the project's models read."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dbt_runner import REPO, DbtResult, ensure_deps, run_dbt
from hte_engine.demo.population import write_inputs
from hte_engine.targeting.deployment import serialise

POPULATION_PROJECT = REPO / "examples" / "policy_loop"
DEMO_SEEDS = REPO / "seeds" / "demo"


def write_population_inputs(
    directory: Path,
    population: pd.DataFrame,
    contacts: pd.DataFrame | None = None,
    demo: dict[str, pd.DataFrame] | None = None,
) -> Path:
    return write_inputs(directory, population, contacts, demo, seeds_dir=DEMO_SEEDS)


def build_population(
    workdir: Path,
    population: pd.DataFrame,
    contacts: pd.DataFrame | None = None,
    *,
    select: str | None = None,
    vars: dict | None = None,
    command: str = "build",
    inputs: Path | None = None,
) -> DbtResult:
    """Write the inputs (unless ``inputs`` points at ones already written) and run dbt in a private DuckDB file."""
    data_dir = inputs or write_population_inputs(workdir / "inputs", population, contacts)
    ensure_deps(POPULATION_PROJECT, workdir / "deps")
    args = [command] + (["--select", select] if select else [])
    return run_dbt(args, workdir, vars={"pop_dir": str(data_dir), **(vars or {})}, project_dir=POPULATION_PROJECT)


def deployed_run(deployment, experiment_id: str, metric: str, arm: str, learner: str = "t") -> pd.DataFrame:
    """hte_deployment_runs as the population model reads it: one ok run of `deployment`, serialised."""
    blob, sha = serialise(deployment)
    run = {"experiment_id": experiment_id, "metric": metric, "arm": arm, "learner": learner, "status": "ok"}
    return pd.DataFrame([{**run, "reason": None, "model_sha256": sha, "model_blob": blob}])
