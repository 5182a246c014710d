"""dbt_hte's SQL layer on Apache Spark (local mode) beside DuckDB, on the same generated inputs.

    .venv/bin/python bench/bench_spark.py --units 1000000
    .venv/bin/python bench/bench_spark.py --units 10000000 --driver-memory 12g

1. bench/run_sql_bench.py's generator (bench/sql/generate_inputs.sql) writes the inputs into a DuckDB file; they
   are copied out once as Parquet, which Spark reads in place (external tables, no copy).
2. `dbt build` of the SQL models of bench/project on DuckDB (wall and CPU time of the process, as run_sql_bench).
3. The same `dbt build` on Spark through dbt-spark's `method: session` (scripts/spark_dbt_build.py: one JVM,
   local[N], in-memory catalog, warehouse under --workdir), every model exported as Parquet afterwards.
4. Every SQL output table (not the row-level views) must agree between the engines (the comparison of
   tests/integration/test_adapters.py: same rows, same text, numbers to 1e-12 relative); a mismatch is reported
   in the results and fails the run (exit status 1).

Results: bench/results/spark_bench_<units>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration"))

from run_sql_bench import (  # noqa: E402
    PROJECT,
    SQL_SELECTION,
    bench_workdir,
    build_sql_models,
    fail,
    generate_inputs,
    model_timings,
    prepare_project,
    run_measured,
)
from test_adapters import compare_tables  # noqa: E402

SPARK_BUILD = REPO / "scripts" / "spark_dbt_build.py"
INPUTS = ("assignments", "unit_features", "outcomes", "experiments")


def export_inputs(database: Path, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(database), read_only=True) as con:
        for name in INPUTS:
            con.execute(f"copy bench_inputs.{name} to '{directory / name}.parquet' (format parquet)")


def compare(database: Path, export: Path, models: list[str]) -> dict:
    report = {}
    with duckdb.connect(str(database), read_only=True) as con:
        for model in models:
            reference = con.execute(f"select * from main.{model}").df()
            spark = con.execute(f"select * from read_parquet('{export / model}/*.parquet')").df()
            report[model] = {"rows": len(reference), "problems": compare_tables(reference, spark)}
    return report


def is_numeric_difference(problem: str) -> bool:
    """A number beyond the tolerance, as opposed to a missing row or a different text value (compare_tables)."""
    return ": relative difference " in problem


def markdown(result: dict) -> str:
    duck, spark = result["duckdb"], result["spark"]
    rows = result["inputs"]["rows"]
    env = result["environment"]
    agree = all(not m["problems"] for m in result["comparison"].values())
    numeric_only = all(is_numeric_difference(p) for m in result["comparison"].values() for p in m["problems"])
    lines = [
        f"SQL layer on {result['units']:,} units ({rows['assignments']:,} assignments, {rows['outcomes']:,} outcome "
        f"rows; bench/project: 3 metrics × 6 dimensions, 2 experiments), {env['cpu_count']} cores, pyspark "
        f"{env['pyspark']} local[{result['spark_cores']}] (driver memory {result['driver_memory']}), DuckDB "
        f"{env['duckdb']}; 1-minute load average {env['load_average_1min']['before']:.1f} before, "
        f"{env['load_average_1min']['after']:.1f} after. `{result['command']}`",
        "",
        "| engine | `dbt build` of the SQL models, wall s | model execution s (sum) | tests s (sum) |",
        "|---|---:|---:|---:|",
        f"| DuckDB | {duck['wall_seconds']:.1f} | {duck['model_seconds']:.1f} | {duck['test_seconds']:.1f} |",
        f"| Spark (dbt-spark session) | {spark['build_seconds']:.1f} | {spark['model_seconds']:.1f} "
        f"| {spark['test_seconds']:.1f} |",
        "",
        f"Spark start-up (JVM and session, not in the build time): {spark['session_seconds']:.1f} s. "
        f"Every SQL output table identical across the engines (rows, text, numbers to 1e-12 relative): "
        f"{'yes' if agree else 'NO'}; same rows and every text value (verdicts, statuses, messages) identical: "
        f"{'yes' if numeric_only else 'NO'}.",
        "",
        "| table | rows | differences beyond 1e-12 relative (largest per column) |",
        "|---|---:|---|",
    ]
    for name, model in sorted(result["comparison"].items()):
        lines.append(f"| {name} | {model['rows']:,} | {'; '.join(model['problems']) or 'none'} |")
    lines += [
        "",
        "| model | DuckDB s | Spark s |",
        "|---|---:|---:|",
    ]
    for name in sorted(duck["models"], key=lambda n: -spark["models"].get(n, 0)):
        lines.append(f"| {name} | {duck['models'][name]:.2f} | {spark['models'].get(name, float('nan')):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/dbt_hte_bench_spark"))
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--spark-cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--shuffle-partitions", type=int, default=8)
    args = parser.parse_args()

    workdir, database, env = bench_workdir(args.workdir, clear_target=False)
    load_before = os.getloadavg()[0]

    print(f"generating {args.units:,} units", flush=True)
    inputs = generate_inputs(database, args.units)
    export_inputs(database, workdir / "inputs")

    prepare_project(workdir, env)

    duck, duck_nodes = build_sql_models(workdir, env)

    print("Spark: dbt build of the SQL models", flush=True)
    spec = workdir / "spark_builds.json"
    spec.write_text(
        json.dumps(
            [
                {
                    "name": "bench",
                    "inputs": str(workdir / "inputs"),
                    "input_schema": "bench_inputs",
                    "schema": "dbt_hte",
                    "vars": {},
                }
            ]
        )
    )
    spark_env = dict(
        env,
        DBT_HTE_SPARK_MASTER=f"local[{args.spark_cores}]",
        DBT_HTE_SPARK_DRIVER_MEMORY=args.driver_memory,
        DBT_HTE_SPARK_SHUFFLE_PARTITIONS=str(args.shuffle_partitions),
    )
    spark_work = workdir / "spark"
    spark = run_measured(
        [
            sys.executable,
            str(SPARK_BUILD),
            "--project-dir",
            str(PROJECT),
            "--work",
            str(spark_work),
            "--select",
            *SQL_SELECTION,
            "--builds",
            str(spec),
            "--export",
            str(spark_work / "export"),
        ],
        env=spark_env,
        cwd=REPO,
        log=workdir / "logs" / "build_spark.out",
    )
    summary_lines = [line for line in spark.output.splitlines() if line.startswith('{"ok"')]
    if spark.returncode != 0 or not summary_lines:
        fail("dbt build on Spark failed:", spark.output)
    spark_summary = json.loads(summary_lines[-1])
    spark_report = spark_summary["builds"]["bench"]
    spark_nodes = model_timings(spark_work / "target" / "bench")

    # The tables, not the views: staging and int_hte_units are row-level views over the inputs (millions of rows
    # here, exercised through every table built on them); tests/integration/test_adapters.py compares them on
    # smaller data.
    tables = sorted(n["name"] for n in spark_nodes if n["resource_type"] == "model" and n["materialized"] == "table")
    comparison = compare(database, spark_work / "export" / "bench", tables)

    def per_model(nodes):
        return {n["name"]: n["execution_time"] for n in nodes if n["resource_type"] == "model"}

    import pyspark

    result = {
        "units": args.units,
        "command": " ".join(["bench/bench_spark.py", *sys.argv[1:]]).strip(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "spark_cores": args.spark_cores,
        "driver_memory": args.driver_memory,
        "environment": {
            "cpu_count": os.cpu_count(),
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pyspark": pyspark.__version__,
        },
        "inputs": inputs,
        "duckdb": {
            "wall_seconds": duck.wall_seconds,
            "cpu_seconds": duck.cpu_seconds,
            "peak_rss_bytes": duck.peak_rss_bytes,
            "models": per_model(duck_nodes),
            "model_seconds": sum(per_model(duck_nodes).values()),
            "test_seconds": sum(n["execution_time"] for n in duck_nodes if n["resource_type"] == "test"),
        },
        "spark": {
            "process_wall_seconds": spark.wall_seconds,
            "process_peak_rss_bytes": spark.peak_rss_bytes,
            "session_seconds": spark_summary["session_seconds"],
            **spark_report["timings"],
            "models": per_model(spark_nodes),
            "model_seconds": sum(per_model(spark_nodes).values()),
            "test_seconds": sum(n["execution_time"] for n in spark_nodes if n["resource_type"] == "test"),
        },
        "comparison": comparison,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    stem = args.results / f"spark_bench_{args.units}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    # Sums agree to 1e-12, but a statistic that subtracts nearly equal numbers (a difference of two lifts) or sits
    # far in a tail (a p-value of 1e-100 moves by z² times the relative change of z) magnifies their last-digit
    # differences: those are reported above. Different rows or text (a verdict, a status) fail the run.
    wrong = {k: [p for p in v["problems"] if not is_numeric_difference(p)] for k, v in comparison.items()}
    if any(wrong.values()):
        sys.exit("Spark and DuckDB disagree: " + json.dumps({k: v for k, v in wrong.items() if v}))


if __name__ == "__main__":
    main()
