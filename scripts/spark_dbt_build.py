"""Build dbt_hte's SQL layer on Apache Spark (local mode, dbt-spark `method: session`) in one process.

    .venv/bin/python scripts/spark_dbt_build.py --project-dir tests/adapter_project --work DIR \
        --select dbt_hte.staging dbt_hte.intermediate dbt_hte.marts --builds builds.json [--export DIR]

builds.json is a list of builds, each {"name", "inputs" (a directory of <input>.parquet files), "input_schema",
"schema", "vars"} and optionally "expect_failure": true (a build on bad input, which must fail); they run one after
the other in the same JVM, each into its own schema. The process exits 0 when every build ended as expected.

The profile's `spark` target keeps its catalog in memory, so tables live as long as the JVM. dbt therefore runs
inside this process (dbtRunner), in the SparkSession that first registers the inputs: every `<name>.parquet` of
a build becomes table <input_schema>.<name> (an external Parquet table, no copy), the source the project points
dbt_hte at (env var DBT_HTE_INPUT_SCHEMA). With --export, every model that was built is written back out as
Parquet (DIR/<build>/<model>/), so that another process can compare it. A JSON summary goes to stdout: per build
its timings and node statuses and, for a build that failed, the message of every failed node, the tables and
views left in its schema, which of its models a query can still read, and the directories left under its schema
in the warehouse (Spark has no transaction to roll a failure back).

The SparkSession is created by dbt from the profile (a `dbt debug` connection test), so the settings in
profiles.yml are the only ones; the warehouse directory is moved under --work with DBT_HTE_SPARK_WAREHOUSE.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def invoke(args: list[str]):
    from dbt.cli.main import dbtRunner

    started = time.perf_counter()
    result = dbtRunner().invoke(args)
    return result, time.perf_counter() - started


def left_behind(spark, schema: str, warehouse: Path, models: list[str]) -> dict:
    """What a build left in `schema`: catalog relations, the models a query can read, and the directories under the
    schema's warehouse location (None if there is none: nothing to look at)."""
    from pyspark.sql.utils import AnalysisException

    relations = sorted(t.name for t in spark.catalog.listTables(schema)) if spark.catalog.databaseExists(schema) else []
    readable = {}
    for model in models:
        try:
            spark.table(f"{schema}.{model}").limit(1).collect()
            readable[model] = True
        except AnalysisException:
            readable[model] = False
    location = warehouse / f"{schema}.db"
    directories = sorted(p.name for p in location.iterdir()) if location.is_dir() else None
    return {"relations": relations, "readable": readable, "warehouse_dirs": directories}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--work", type=Path, required=True, help="warehouse, target and log directory")
    parser.add_argument("--select", nargs="+", required=True)
    parser.add_argument("--builds", type=Path, required=True, help="JSON list of builds (see above)")
    parser.add_argument("--export", type=Path, help="write every built model to DIR/<build>/<model>/ as Parquet")
    args = parser.parse_args()

    builds = json.loads(args.builds.read_text())
    work = args.work.resolve()
    # The catalog is new with every process; tables left under an old warehouse would block CTAS (location exists).
    shutil.rmtree(work / "warehouse", ignore_errors=True)
    if args.export:
        shutil.rmtree(args.export, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "DBT_PROFILES_DIR": str(REPO),
            "DBT_HTE_SPARK_WAREHOUSE": str(work / "warehouse"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    common = ["--project-dir", str(args.project_dir), "--target", "spark", "--log-path", str(work / "logs")]

    started = time.perf_counter()
    result, _ = invoke(["debug", *common])
    if not result.success:
        print(json.dumps({"ok": False, "step": "debug", "error": str(result.exception)}))
        return 1
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    summary = {"ok": True, "session_seconds": time.perf_counter() - started, "builds": {}}

    for build in builds:
        name, input_schema, schema = build["name"], build["input_schema"], build["schema"]
        os.environ.update({"DBT_HTE_SPARK_SCHEMA": schema, "DBT_HTE_INPUT_SCHEMA": input_schema})
        timings: dict[str, float] = {}
        started = time.perf_counter()
        spark.sql(f"create database if not exists {input_schema}")
        for path in sorted(Path(build["inputs"]).resolve().glob("*.parquet")):
            spark.catalog.createTable(f"{input_schema}.{path.stem}", path=str(path), source="parquet")
        timings["load_seconds"] = time.perf_counter() - started

        result, timings["build_seconds"] = invoke(
            [
                "build",
                *common,
                "--target-path",
                str(work / "target" / name),
                "--select",
                *args.select,
                "--vars",
                json.dumps(build.get("vars", {})),
            ]
        )
        results = result.result.results if result.result else []
        statuses = {r.node.unique_id: str(r.status) for r in results}
        expect_failure = bool(build.get("expect_failure"))
        report = {
            "ok": result.success != expect_failure,
            "succeeded": result.success,
            "timings": timings,
            "statuses": statuses,
        }
        if not result.success:
            report.update(
                left_behind(
                    spark,
                    schema,
                    work / "warehouse",
                    [r.node.alias for r in results if r.node.resource_type == "model"],
                )
            )
            report["errors"] = {r.node.unique_id: str(r.message) for r in results if str(r.status) in ("error", "fail")}
            if result.exception:
                report["errors"]["dbt"] = str(result.exception)
        if not report["ok"]:
            summary["ok"] = False
        elif result.success and args.export:
            started = time.perf_counter()
            # Timestamps as plain int64 microseconds: the Parquet reader on the other side need not know INT96.
            spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
            models = sorted(r.node.alias for r in result.result.results if r.node.resource_type == "model")
            for model in models:
                spark.table(f"{schema}.{model}").write.mode("overwrite").parquet(str(args.export / name / model))
            timings["export_seconds"] = time.perf_counter() - started
            report["exported"] = models
        summary["builds"][name] = report
    spark.stop()
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
