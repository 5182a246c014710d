"""Build dbt_hte on inputs a test writes itself (tests/fixture_project reads them as Parquet files)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from dbt_runner import REPO, DbtResult, ensure_deps, run_dbt

FIXTURE_PROJECT = REPO / "tests" / "fixture_project"
INPUTS = ("assignments", "unit_features", "outcomes", "experiments")


def write_inputs(directory: Path, frames: dict[str, pd.DataFrame]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:  # DuckDB writes Parquet itself: no pyarrow needed
        for name in INPUTS:
            con.register("frame", frames[name])
            con.execute(f"copy frame to '{directory / name}.parquet' (format parquet)")
            con.unregister("frame")
    return directory


def build_fixture(
    workdir: Path,
    frames: dict[str, pd.DataFrame],
    *,
    select: str | None = None,
    vars: dict | None = None,
    command: str = "build",
) -> DbtResult:
    """Write `frames` and run `dbt <command>` of dbt_hte on them in a private DuckDB file under `workdir`."""
    data_dir = write_inputs(workdir / "inputs", frames)
    ensure_deps(FIXTURE_PROJECT, workdir / "deps")
    args = [command] + (["--select", select] if select else [])
    return run_dbt(args, workdir, vars=vars, project_dir=FIXTURE_PROJECT, env=fixture_env(data_dir))


def fixture_env(data_dir: Path) -> dict[str, str]:
    """Where tests/fixture_project's models read their Parquet files: an environment variable, not a var, so the
    parse is shared between tests (tests/dbt_runner.py)."""
    return {"HTE_FIXTURE_DIR": str(data_dir)}


def ab_experiment(experiment_id: str, control: str = "control", treatment: str = "treatment") -> pd.DataFrame:
    """The experiments table of an A/B test: a control arm and one treatment arm, each expected to get half the
    units."""
    return pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "arm": [control, treatment],
            "is_control": [True, False],
            "expected_share": [0.5, 0.5],
        }
    )


def valid_inputs(seed: int = 7, n_units: int = 600, experiment_id: str = "exp_a") -> dict[str, pd.DataFrame]:
    """A small, clean two-arm experiment that satisfies the whole input contract (tests break one rule at a time)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    unit_ids = [f"{experiment_id}_u{i:05d}" for i in range(n_units)]
    arms = rng.choice(["control", "treatment"], size=n_units)
    assigned_at = pd.Timestamp("2026-03-01 12:00:00")
    assignments = pd.DataFrame(
        {"experiment_id": experiment_id, "unit_id": unit_ids, "arm": arms, "assigned_at": assigned_at}
    )
    unit_features = pd.DataFrame(
        {
            "experiment_id": experiment_id,
            "unit_id": unit_ids,
            "features_at": assigned_at - pd.Timedelta(days=1),
            "segment_a": rng.choice(["north", "south", "east"], size=n_units),
            "segment_b": rng.choice(["new", "returning"], size=n_units),
            "score": rng.normal(size=n_units),
        }
    )
    treated = (arms == "treatment").astype(float)
    conversion = (rng.random(n_units) < 0.2 + 0.05 * treated).astype(float)
    revenue = conversion * rng.gamma(2.0, 10.0, size=n_units)
    outcomes = pd.concat(
        [
            pd.DataFrame(
                {
                    "experiment_id": experiment_id,
                    "unit_id": unit_ids,
                    "metric": "conversion",
                    "value": conversion,
                    "pre_value": np.nan,
                }
            ),
            pd.DataFrame(
                {
                    "experiment_id": experiment_id,
                    "unit_id": unit_ids,
                    "metric": "revenue",
                    "value": revenue,
                    "pre_value": rng.gamma(2.0, 5.0, size=n_units).round(2),
                }
            ),
        ],
        ignore_index=True,
    )
    experiments = ab_experiment(experiment_id)
    return {
        "assignments": assignments,
        "unit_features": unit_features,
        "outcomes": outcomes,
        "experiments": experiments,
    }
