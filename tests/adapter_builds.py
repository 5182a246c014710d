"""Build dbt_hte's SQL layer on DuckDB, PostgreSQL and Spark from the same input files, and read the results back.

Inputs are four Parquet files per data set (assignments, unit_features, outcomes, experiments), written once with
DuckDB and loaded into each engine as the tables of source `hte_inputs` of tests/adapter_project: every engine
starts from identical values and types, and none goes through `dbt seed`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from dbt_runner import DBT, REPO, SHARED_DATA, ensure_deps, process_temp_dir, run_dbt
from fixtures import write_inputs

ADAPTER_PROJECT = REPO / "tests" / "adapter_project"
INTEGRATION_PROJECT = REPO / "integration_tests"
POSTGRES_SCRIPT = REPO / "scripts" / "postgres_test_server.sh"
SPARK_BUILD = REPO / "scripts" / "spark_dbt_build.py"
INPUTS = ("assignments", "unit_features", "outcomes", "experiments")
# dbt_hte's SQL models by folder; python_models/ is left out (not every adapter runs Python models).
SQL_SELECTION = ["dbt_hte.staging", "dbt_hte.intermediate", "dbt_hte.marts"]
ANALYSIS_VARS = ("hte_segment_columns", "hte_feature_columns", "hte_metrics")
# DuckDB type of an input column -> PostgreSQL type.
POSTGRES_TYPES = {
    "VARCHAR": "text",
    "DOUBLE": "double precision",
    "FLOAT": "real",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "TIMESTAMP": "timestamp",
    "DATE": "date",
}


@dataclass
class Dataset:
    name: str
    inputs: Path  # directory of <input>.parquet
    vars: dict


@dataclass
class EngineBuild:
    engine: str
    dataset: str
    seconds: float
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)  # Spark: session start, load, build, export
    report: dict = field(default_factory=dict)  # Spark: scripts/spark_dbt_build.py's summary of this build


# ----------------------------------------------------------------------------------------------------- data sets
def demo_dataset(directory: Path) -> Dataset:
    """The bundled demo seeds, typed as seeds/demo/demo.yml declares them (what `dbt seed` would load)."""
    directory.mkdir(parents=True, exist_ok=True)
    seeds = {seed["name"]: seed for seed in yaml.safe_load((REPO / "seeds/demo/demo.yml").read_text())["seeds"]}
    with duckdb.connect() as con:
        for name in INPUTS:
            types = seeds[f"hte_demo_{name}"]["config"]["column_types"]
            csv = REPO / "seeds" / "demo" / f"hte_demo_{name}.csv"
            con.execute(
                f"copy (select * from read_csv('{csv}', header = true, types = {types!r})) "
                f"to '{directory / name}.parquet' (format parquet)"
            )
    project_vars = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]["dbt_hte"]
    return Dataset("demo", directory, {k: project_vars[k] for k in ANALYSIS_VARS})


def hillstrom_dataset(directory: Path) -> Dataset:
    """The integration project's four input models over the real Hillstrom data, built on DuckDB."""
    directory.mkdir(parents=True, exist_ok=True)
    workdir = directory / "dbt"
    ensure_deps(INTEGRATION_PROJECT, workdir / "deps")
    models = ["hillstrom_customers"] + [f"hillstrom_{name}" for name in INPUTS]
    env_vars = {"hillstrom_data_dir": str(SHARED_DATA)}
    built = run_dbt(["run", "--select", *models], workdir, vars=env_vars, project_dir=INTEGRATION_PROJECT)
    assert built.ok, built.output[-4000:]
    with duckdb.connect(str(built.db_path), read_only=True) as con:
        for name in INPUTS:
            con.execute(f"copy (select * from main.hillstrom_{name}) to '{directory / name}.parquet' (format parquet)")
    project_vars = yaml.safe_load((INTEGRATION_PROJECT / "dbt_project.yml").read_text())["vars"]
    return Dataset("hillstrom", directory, {k: project_vars[k] for k in ANALYSIS_VARS})


def fixture_dataset(directory: Path, name: str, frames: dict[str, pd.DataFrame]) -> Dataset:
    """Input frames a test writes itself (tests/fixtures.py: small, and broken on purpose where a test needs it),
    analysed as tests/fixture_project analyses them on DuckDB."""
    write_inputs(directory, frames)
    project_vars = yaml.safe_load((REPO / "tests" / "fixture_project" / "dbt_project.yml").read_text())["vars"]
    return Dataset(name, directory, {k: project_vars[k] for k in ANALYSIS_VARS})


def build_vars(dataset: Dataset) -> str:
    return json.dumps(dataset.vars)


def _run(command: list[str], env: dict, timeout: int = 900) -> tuple[subprocess.CompletedProcess, float]:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ADAPTER_PROJECT, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, time.perf_counter() - started


def _dbt_build(target: str, workdir: Path, dataset: Dataset, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    ensure_adapter_project_deps()
    command = [
        DBT,
        "build",
        "--target",
        target,
        "--select",
        *SQL_SELECTION,
        "--vars",
        build_vars(dataset),
        "--project-dir",
        str(ADAPTER_PROJECT),
        "--target-path",
        str(workdir / "target"),
        "--log-path",
        str(workdir / "logs"),
    ]
    return _run(command, env)


def ensure_adapter_project_deps() -> None:
    ensure_deps(ADAPTER_PROJECT, process_temp_dir("dbt_hte_deps_"))


def built_models(workdir: Path) -> list[str]:
    """Names of the models dbt built in `workdir` (from run_results.json), so every SQL output is compared."""
    results = json.loads((workdir / "target" / "run_results.json").read_text())["results"]
    return sorted(r["unique_id"].split(".")[-1] for r in results if r["unique_id"].startswith("model."))


# ----------------------------------------------------------------------------------------------------- DuckDB
def run_duckdb(dataset: Dataset, workdir: Path) -> tuple[subprocess.CompletedProcess, float, Path]:
    """Load the inputs into a new DuckDB file under `workdir` and run `dbt build` there, failed or not."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "hte.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("create schema hte_inputs")
        for name in INPUTS:
            con.execute(
                f"create table hte_inputs.{name} as select * from read_parquet('{dataset.inputs / name}.parquet')"
            )
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(REPO),
        DBT_HTE_DUCKDB_PATH=str(database),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    proc, seconds = _dbt_build("duckdb", workdir, dataset, env)
    return proc, seconds, database


def build_duckdb(dataset: Dataset, workdir: Path) -> EngineBuild:
    proc, seconds, database = run_duckdb(dataset, workdir)
    assert proc.returncode == 0, f"dbt build on DuckDB ({dataset.name}) failed:\n{proc.stdout[-8000:]}"
    build = EngineBuild("duckdb", dataset.name, seconds)
    with duckdb.connect(str(database), read_only=True) as con:
        for model in built_models(workdir):
            build.tables[model] = con.execute(f"select * from main.{model}").df()
    return build


# ----------------------------------------------------------------------------------------------------- PostgreSQL
@dataclass
class PostgresServer:
    directory: Path
    port: int

    @property
    def env(self) -> dict:
        return dict(
            os.environ,
            DBT_PROFILES_DIR=str(REPO),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            DBT_HTE_POSTGRES_HOST="127.0.0.1",
            DBT_HTE_POSTGRES_PORT=str(self.port),
            DBT_HTE_POSTGRES_USER="dbt_hte",
            DBT_HTE_POSTGRES_DBNAME="dbt_hte",
        )

    def connect(self):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user="dbt_hte", dbname="dbt_hte")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres() -> PostgresServer:
    """A fresh cluster under a new directory of the system temp dir (not pytest's: as root the server runs as the
    `postgres` user, which cannot enter pytest's private directories). Stopped again if the start fails."""
    server = PostgresServer(Path(tempfile.mkdtemp(prefix="dbt_hte_postgres_")), free_port())
    proc = subprocess.run(
        [str(POSTGRES_SCRIPT), "start", str(server.directory), str(server.port)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        stop_postgres(server)
        raise RuntimeError(f"Could not start the test PostgreSQL server:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return server


def stop_postgres(server: PostgresServer) -> None:
    import shutil

    subprocess.run([str(POSTGRES_SCRIPT), "stop", str(server.directory)], capture_output=True, text=True, timeout=120)
    shutil.rmtree(server.directory, ignore_errors=True)


def load_postgres(server: PostgresServer, dataset: Dataset, schema: str) -> None:
    """Create `schema`.<input> tables with the DuckDB column types and COPY the rows in as CSV. Doubles are
    written by DuckDB in shortest round-trip form, so PostgreSQL parses back the identical float8."""
    with duckdb.connect() as con, server.connect() as pg, pg.cursor() as cur:
        cur.execute(f"create schema {schema}")
        for name in INPUTS:
            relation = f"read_parquet('{dataset.inputs / name}.parquet')"
            described = con.execute(f"describe select * from {relation}").fetchall()
            columns = ", ".join(f'"{column}" {POSTGRES_TYPES[dtype]}' for column, dtype, *_ in described)
            cur.execute(f"create table {schema}.{name} ({columns})")
            csv = Path(tempfile.mkstemp(suffix=".csv")[1])
            try:
                con.execute(f"copy (select * from {relation}) to '{csv}' (format csv, header false, nullstr '\\N')")
                with csv.open() as handle:
                    cur.copy_expert(f"copy {schema}.{name} from stdin with (format csv, null '\\N')", handle)
            finally:
                csv.unlink()
            # Planner statistics, as autovacuum would gather on a warehouse table: without them PostgreSQL takes
            # the freshly loaded tables for a few hundred rows and joins outcomes to units in a nested loop
            # (minutes instead of a second for the demo).
            cur.execute(f"analyze {schema}.{name}")


def run_postgres(
    server: PostgresServer, dataset: Dataset, workdir: Path, schema: str | None = None, load: bool = True
) -> tuple[subprocess.CompletedProcess, float]:
    """Load the inputs into schema <name>_inputs (unless an earlier call did: load=False) and run `dbt build` into
    `schema` (default <name>_hte), failed or not. Several data sets may build into one schema, one after the other."""
    workdir.mkdir(parents=True, exist_ok=True)
    input_schema = f"{dataset.name}_inputs"
    if load:
        load_postgres(server, dataset, input_schema)
    env = dict(server.env, DBT_HTE_POSTGRES_SCHEMA=schema or f"{dataset.name}_hte", DBT_HTE_INPUT_SCHEMA=input_schema)
    return _dbt_build("postgres", workdir, dataset, env)


def read_postgres(server: PostgresServer, schema: str, models: list[str]) -> dict[str, pd.DataFrame]:
    with server.connect() as pg, pg.cursor() as cur:
        tables = {}
        for model in models:
            cur.execute(f"select * from {schema}.{model}")
            tables[model] = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    return tables


def postgres_relations(server: PostgresServer, schema: str) -> dict[str, str]:
    """Every table and view in `schema` (name -> BASE TABLE or VIEW), leftovers such as x__dbt_tmp included."""
    with server.connect() as pg, pg.cursor() as cur:
        cur.execute("select table_name, table_type from information_schema.tables where table_schema = %s", (schema,))
        return dict(cur.fetchall())


def build_postgres(server: PostgresServer, dataset: Dataset, workdir: Path) -> EngineBuild:
    proc, seconds = run_postgres(server, dataset, workdir)
    assert proc.returncode == 0, f"dbt build on PostgreSQL ({dataset.name}) failed:\n{proc.stdout[-8000:]}"
    build = EngineBuild("postgres", dataset.name, seconds)
    build.tables = read_postgres(server, f"{dataset.name}_hte", built_models(workdir))
    return build


# ----------------------------------------------------------------------------------------------------- Spark
def run_spark(
    datasets: list[Dataset], workdir: Path, *, failing: set[str] = frozenset(), export: Path | None = None
) -> dict:
    """scripts/spark_dbt_build.py in a child process: one JVM (in-memory catalog, warehouse under workdir) builds
    every data set in turn, each into its own schema <name>_hte. Returns the script's summary; asserts that every
    build succeeded, except the data sets named in `failing`, which must fail."""
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_adapter_project_deps()
    spec = workdir / "builds.json"
    spec.write_text(
        json.dumps(
            [
                {
                    "name": d.name,
                    "inputs": str(d.inputs),
                    "input_schema": f"{d.name}_inputs",
                    "schema": f"{d.name}_hte",
                    "vars": d.vars,
                    "expect_failure": d.name in failing,
                }
                for d in datasets
            ]
        )
    )
    command = [
        sys.executable,
        str(SPARK_BUILD),
        "--project-dir",
        str(ADAPTER_PROJECT),
        "--work",
        str(workdir),
        "--select",
        *SQL_SELECTION,
        "--builds",
        str(spec),
    ] + (["--export", str(export)] if export else [])
    # one JVM builds every data set and then the faulty inputs: three data sets took 15 minutes on a loaded 2-core
    # machine, over the 900 s every other command gets
    proc, seconds = _run(command, dict(os.environ, DBT_SEND_ANONYMOUS_USAGE_STATS="false"), timeout=2400)
    summary_line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "{}"
    assert proc.returncode == 0, (
        f"a dbt build on Spark did not end as expected (failing: {sorted(failing)}): "
        f"{summary_line[-4000:]}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    )
    summary = json.loads(summary_line)
    summary["process_seconds"] = seconds
    return summary


def build_spark(datasets: list[Dataset], workdir: Path, faulty: list[Dataset] = ()) -> dict[str, EngineBuild]:
    """Every data set built on Spark in one JVM (run_spark), its models exported as Parquet and read back; then
    every `faulty` data set, whose build must fail (its EngineBuild has no tables; its report says what is left)."""
    export = workdir / "export"
    summary = run_spark([*datasets, *faulty], workdir, failing={d.name for d in faulty}, export=export)
    builds = {}
    with duckdb.connect() as con:
        for name, report in summary["builds"].items():
            build = EngineBuild(
                "spark",
                name,
                report["timings"]["build_seconds"],
                report=report,
                timings={"session_start": summary["session_seconds"], **report["timings"]},
            )
            for model in report.get("exported", []):
                build.tables[model] = con.execute(
                    f"select * from read_parquet('{export / name / model}/*.parquet')"
                ).df()
            builds[name] = build
    return builds
