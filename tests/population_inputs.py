"""Inputs of tests/population_project: the demo experiments (the seed CSVs as they are), a population and a
contact log, written as Parquet files the project's models read."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dbt_runner import REPO, DbtResult, ensure_deps, run_dbt

POPULATION_PROJECT = REPO / "tests" / "population_project"
DEMO_SEEDS = REPO / "seeds" / "demo"


def write_population_inputs(directory: Path, population: pd.DataFrame, contacts: pd.DataFrame | None = None,
                            demo: dict[str, pd.DataFrame] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    if contacts is None:
        contacts = pd.DataFrame({"unit_id": pd.Series([], dtype="string"),
                                 "contacted_at": pd.Series([], dtype="datetime64[us]"),
                                 "channel": pd.Series([], dtype="string")})
    with duckdb.connect() as con:
        for name in ("assignments", "unit_features", "outcomes", "experiments"):
            if demo is not None and name in demo:
                con.register("frame", demo[name])
                con.execute(f"copy frame to '{directory / name}.parquet' (format parquet)")
                con.unregister("frame")
            else:
                con.execute(f"copy (select * from read_csv_auto('{DEMO_SEEDS / ('hte_demo_' + name)}.csv')) "
                            f"to '{directory / name}.parquet' (format parquet)")
        for name, frame in (("population", population), ("contacts", contacts)):
            con.register("frame", frame)
            con.execute(f"copy frame to '{directory / name}.parquet' (format parquet)")
            con.unregister("frame")
    return directory


def build_population(workdir: Path, population: pd.DataFrame, contacts: pd.DataFrame | None = None, *,
                     select: str | None = None, vars: dict | None = None, command: str = "build",
                     inputs: Path | None = None) -> DbtResult:
    """Write the inputs (unless ``inputs`` points at ones already written) and run dbt in a private DuckDB file."""
    data_dir = inputs or write_population_inputs(workdir / "inputs", population, contacts)
    ensure_deps(POPULATION_PROJECT, workdir / "deps")
    args = [command] + (["--select", select] if select else [])
    return run_dbt(args, workdir, vars={"pop_dir": str(data_dir), **(vars or {})}, project_dir=POPULATION_PROJECT)
