"""Run dbt the way a user does (a subprocess of the venv's dbt CLI), isolated per call.

Every call gets its own DuckDB file, target and log directory, so tests never share state and several builds can
coexist. Output is captured so tests can assert on dbt_hte's error messages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


@dataclass
class DbtResult:
    returncode: int
    output: str
    db_path: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def table(self, name: str, schema: str = "main") -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(f'select * from "{schema}"."{name}"').df()

    def query(self, sql: str) -> pd.DataFrame:
        with duckdb.connect(str(self.db_path), read_only=True) as con:
            return con.execute(sql).df()


def run_dbt(args: list[str], workdir: Path, *, vars: dict | None = None, project_dir: Path = REPO,
            timeout: int = 900) -> DbtResult:
    """Run `dbt <args>` against `project_dir` with a private DuckDB file and target under `workdir`."""
    workdir.mkdir(parents=True, exist_ok=True)
    db_path = workdir / "hte.duckdb"
    env = dict(os.environ, DBT_PROFILES_DIR=str(REPO), DBT_HTE_DUCKDB_PATH=str(db_path),
               DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    command = [DBT, *args, "--project-dir", str(project_dir), "--log-path", str(workdir / "logs")]
    if args[0] != "deps":  # deps takes no target path
        command += ["--target-path", str(workdir / "target")]
    if vars:
        command += ["--vars", json.dumps(vars)]
    proc = subprocess.run(command, cwd=project_dir, env=env, capture_output=True, text=True, timeout=timeout)
    return DbtResult(proc.returncode, proc.stdout + proc.stderr, db_path)

# The shared folder (real data) lies beside the repository, in development and in CI; HTE_SHARED_DATA_DIR overrides.
SHARED_DATA = Path(os.environ.get("HTE_SHARED_DATA_DIR", REPO.parent / "shared" / "data")).resolve()
HILLSTROM_CSV = SHARED_DATA / "hillstrom.csv"
# The Hillstrom data have no stated licence, so they are not in the repository: on a clone without the shared folder
# the tests on them skip with this one line instead of erroring; CI has the folder, and there they run.
def missing_data_reason(path: Path) -> str:
    return (f"Hillstrom data not present at {path} (not in the repository: put the shared folder beside the clone, "
            "or set HTE_SHARED_DATA_DIR to the folder holding hillstrom.csv)")


HILLSTROM_MISSING = missing_data_reason(HILLSTROM_CSV)


def hillstrom_present() -> bool:
    return HILLSTROM_CSV.is_file()
