"""Benchmark dbt_hte's SQL layer against one hand-written DuckDB GROUPING SETS query, in the same run.

    .venv/bin/python bench/run_sql_bench.py               # 10 million units (several minutes on 2 cores)
    .venv/bin/python bench/run_sql_bench.py --units 100000  # smoke run

1. bench/sql/generate_inputs.sql writes the inputs (units × 3 metrics × 6 dimensions) into a fresh DuckDB file.
2. `dbt build` of dbt_hte's SQL models (bench/project installs the package by local path) on that file; each
   model's execution time comes from target/run_results.json, the wall time and peak RSS from the process.
3. bench/sql/handwritten_segment_stats.sql, the same statistics by hand, runs --repeat times, each in a fresh
   process (cold DuckDB, like dbt), then once more under DuckDB's profiler for its peak buffer memory.
4. hte_segment_stats must equal the hand-written result (same rows, n exact, sums to 1e-9 relative); a
   benchmark of a wrong answer is worthless, so a mismatch fails the run (exit status 1, results still written).

Results: bench/results/sql_bench_<units>.json and .md (the table for the README).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from dbt_query_log import query_timings

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PROJECT = BENCH / "project"
DBT = str(Path(sys.executable).with_name("dbt"))
LAYERS = ("staging", "intermediate", "marts")
# dbt_hte's SQL models, by their folder; Python models (python_models/) are the learners' bench, not this one.
SQL_SELECTION = [f"dbt_hte.{layer}" for layer in LAYERS]
STAT_COLUMNS = ("sum_y", "sum_y2", "sum_x", "sum_x2", "sum_xy")
RELATIVE_TOLERANCE = 1e-9
# The model the hand-written query reproduces; it and its ancestors are the like-for-like comparison.
SEGMENT_STATS = "model.dbt_hte.hte_segment_stats"
SLOWEST_STATEMENTS = 12


@dataclass
class Measured:
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    output: str


def run_measured(command: list[str], *, env: dict[str, str], cwd: Path, log: Path) -> Measured:
    """Run `command` to completion; wall time, and the CPU time and peak RSS of that process alone (os.wait4's
    rusage). CPU time is the figure that survives other work on the machine: wall time stretches with the load
    average, CPU time far less."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in KiB
    return Measured(proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, log.read_text())


def generate_inputs(database: Path, units: int) -> dict:
    for stale in (database, database.with_name(database.name + ".wal")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    with duckdb.connect(str(database)) as con:
        con.execute(f"set variable units = {int(units)}")
        con.execute((BENCH / "sql" / "generate_inputs.sql").read_text())
        rows = {
            table: con.execute(f"select count(*) from bench_inputs.{table}").fetchone()[0]
            for table in ("assignments", "unit_features", "outcomes", "experiments")
        }
    return {"seconds": time.perf_counter() - started, "rows": rows}


def bench_workdir(path: Path, clear_target: bool = True) -> tuple[Path, Path, dict[str, str]]:
    """A bench's folder (made if missing), its DuckDB file, and the environment dbt runs in there: the
    repository's profile pointed at that file. ``clear_target`` removes the last run's target folder, whose run
    results the bench reads back."""
    workdir = path.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if clear_target:
        shutil.rmtree(workdir / "target", ignore_errors=True)
    database = workdir / "hte.duckdb"
    env = dict(
        os.environ,
        DBT_PROFILES_DIR=str(REPO),
        DBT_HTE_DUCKDB_PATH=str(database),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return workdir, database, env


def dbt_command(args: list[str], workdir: Path, project: Path = PROJECT) -> list[str]:
    """``dbt <args>`` on a bench project, with its logs and target in the bench's folder."""
    command = [DBT, *args, "--project-dir", str(project), "--log-path", str(workdir / "logs")]
    if args[0] != "deps":
        command += ["--target-path", str(workdir / "target")]
    return command


def fail(message: str, output: str = "") -> None:
    sys.exit(f"{message}\n{output[-4000:]}" if output else message)


def prepare_project(workdir: Path, env: dict[str, str]) -> Measured:
    """dbt deps (first time) and dbt parse of bench/project, so the timed build pays a partial parse, as a
    scheduled run does, not a cold one."""
    if not (PROJECT / "dbt_packages" / "dbt_hte").exists():
        deps = run_measured(dbt_command(["deps"], workdir), env=env, cwd=PROJECT, log=workdir / "logs" / "deps.out")
        if deps.returncode != 0:
            fail("dbt deps failed for bench/project:", deps.output)
    parse = run_measured(dbt_command(["parse"], workdir), env=env, cwd=PROJECT, log=workdir / "logs" / "parse.out")
    if parse.returncode != 0:
        fail("dbt parse failed for bench/project:", parse.output)
    return parse


def model_timings(target: Path) -> list[dict]:
    """One row per node dbt ran: layer, language, materialization, execution_time and its compile/execute split.

    A dbt_hte staging model validates its input with queries run while it compiles, so a staging model's `compile`
    is its validation time and `execute` its own statement. The rules that need the join of the inputs are
    counted by int_hte_raw_cells's own statement and read back by its post-hook (a query over the small cell
    table), both inside its `execute`."""
    manifest = json.loads((target / "manifest.json").read_text())["nodes"]
    results = json.loads((target / "run_results.json").read_text())["results"]
    feeds_segment_stats, pending = set(), [SEGMENT_STATS]
    while pending:
        node_id = pending.pop()
        if node_id in manifest and node_id not in feeds_segment_stats:
            feeds_segment_stats.add(node_id)
            pending.extend(manifest[node_id]["depends_on"]["nodes"])
    rows = []
    for result in results:
        node = manifest[result["unique_id"]]
        phases = {
            phase["name"]: (
                datetime.fromisoformat(phase["completed_at"]) - datetime.fromisoformat(phase["started_at"])
            ).total_seconds()
            for phase in result["timing"]
            if phase.get("started_at") and phase.get("completed_at")
        }
        rows.append(
            {
                "unique_id": result["unique_id"],
                "name": node["name"],
                "resource_type": node["resource_type"],
                "language": node.get("language"),
                "layer": node["fqn"][1] if node["resource_type"] == "model" and len(node["fqn"]) > 2 else None,
                "materialized": node["config"].get("materialized"),
                "feeds_segment_stats": result["unique_id"] in feeds_segment_stats,
                "status": result["status"],
                "execution_time": result["execution_time"],
                "compile_seconds": phases.get("compile"),
                "execute_seconds": phases.get("execute"),
            }
        )
    return rows


def run_baseline(database: Path, workdir: Path, env: dict[str, str], profile: Path | None = None) -> dict:
    command = [sys.executable, str(BENCH / "sql_bench_baseline.py"), str(database)]
    if profile:
        command += ["--profile", str(profile)]
    measured = run_measured(command, env=env, cwd=REPO, log=workdir / "logs" / "baseline.log")
    if measured.returncode != 0:
        fail("The hand-written query failed:", measured.output)
    report = json.loads(measured.output.strip().splitlines()[-1])
    return {
        **report,
        "process_wall_seconds": measured.wall_seconds,
        "process_cpu_seconds": measured.cpu_seconds,
        "peak_rss_bytes": measured.peak_rss_bytes,
    }


def verify(database: Path) -> dict:
    """Compare main.hte_segment_stats with bench_baseline.segment_stats row by row."""
    keys = "experiment_id, metric, dimension, segment, arm"
    relative = ", ".join(
        f"max(case when d.{c} is null and b.{c} is null then 0"
        f" when d.{c} is null or b.{c} is null then 1"
        f" when d.{c} = b.{c} then 0"
        f" else abs(d.{c} - b.{c}) / greatest(abs(d.{c}), abs(b.{c})) end) as {c}"
        for c in STAT_COLUMNS
    )
    with duckdb.connect(str(database), read_only=True) as con:
        row = con.execute(f"""
            select
                count(*) filter (where b.n is null) as rows_only_in_dbt,
                count(*) filter (where d.n is null) as rows_only_in_baseline,
                count(*) filter (where d.n is not null and b.n is not null) as rows_matched,
                count(*) filter (where d.n <> b.n) as rows_with_different_n,
                {relative}
            from main.hte_segment_stats d
            full join bench_baseline.segment_stats b using ({keys})
        """).fetchone()
    names = ["rows_only_in_dbt", "rows_only_in_baseline", "rows_matched", "rows_with_different_n"]
    check = dict(zip(names, row[:4]))
    check["max_relative_difference"] = dict(zip(STAT_COLUMNS, row[4:]))
    check["relative_tolerance"] = RELATIVE_TOLERANCE
    check["equal"] = (
        check["rows_only_in_dbt"] == 0
        and check["rows_only_in_baseline"] == 0
        and check["rows_matched"] > 0
        and check["rows_with_different_n"] == 0
        and all(value <= RELATIVE_TOLERANCE for value in check["max_relative_difference"].values())
    )
    return check


def summarise(nodes: list[dict], build: Measured, run_elapsed: float, baseline_runs: list[dict]) -> dict:
    models = [n for n in nodes if n["resource_type"] == "model" and n["language"] == "sql"]
    model_seconds = sum(n["execution_time"] for n in models)
    baseline = statistics.median(run["seconds"] for run in baseline_runs)
    baseline_cpu = statistics.median(run["process_cpu_seconds"] for run in baseline_runs)
    by_layer = {
        layer: {
            "execution_time": sum(n["execution_time"] for n in models if n["layer"] == layer),
            "compile_seconds": sum(n["compile_seconds"] or 0 for n in models if n["layer"] == layer),
            "execute_seconds": sum(n["execute_seconds"] or 0 for n in models if n["layer"] == layer),
        }
        for layer in LAYERS
    }
    for layer in by_layer.values():
        layer["share"] = layer["execution_time"] / model_seconds if model_seconds else None
    path_seconds = sum(n["execution_time"] for n in models if n["feeds_segment_stats"])
    return {
        "handwritten_query_seconds_median": baseline,
        "model_execution_seconds": model_seconds,
        "models_to_handwritten_ratio": model_seconds / baseline,
        "segment_stats_path_seconds": path_seconds,
        "segment_stats_path_to_handwritten_ratio": path_seconds / baseline,
        "by_layer": by_layer,
        "test_execution_seconds": sum(n["execution_time"] for n in nodes if n["resource_type"] == "test"),
        "dbt_run_elapsed_seconds": run_elapsed,
        "dbt_build_wall_seconds": build.wall_seconds,
        "build_wall_to_handwritten_ratio": build.wall_seconds / baseline,
        "dbt_build_cpu_seconds": build.cpu_seconds,
        "handwritten_process_cpu_seconds_median": baseline_cpu,
        "build_cpu_to_handwritten_cpu_ratio": build.cpu_seconds / baseline_cpu,
        "dbt_peak_rss_bytes": build.peak_rss_bytes,
        "handwritten_peak_rss_bytes": max(run["peak_rss_bytes"] for run in baseline_runs),
    }


def data_described(result: dict, shape: str) -> str:
    """How a benchmark's table names its data: 'N units (A assignments, O outcome rows; `shape`)'."""
    rows = result["inputs"]["rows"]
    return (
        f"{result['units']:,} units ({rows['assignments']:,} assignments, {rows['outcomes']:,} outcome rows; {shape})"
    )


def load_described(result: dict) -> str:
    """The machine's 1-minute load average before and after the run (other work sharing the CPUs)."""
    load = result["environment"]["load_average_1min"]
    return f"1-minute load average {load['before']:.1f} before the run, {load['after']:.1f} after"


def markdown(result: dict) -> str:
    s, gib = result["summary"], 1024**3
    base = s["handwritten_query_seconds_median"]
    lines = [
        f"SQL layer on {data_described(result, '3 metrics × 6 dimensions, 2 experiments, 5 arms')}, "
        f"{result['environment']['cpu_count']} cores, DuckDB {result['environment']['duckdb']}, dbt-core "
        f"{result['environment']['dbt_core']}; {load_described(result)} (above the core count, other work shared the "
        f"CPUs and wall times stretch). `{result['command']}`",
        "",
        "| what | seconds | × hand-written |",
        "|---|---:|---:|",
        f"| hand-written GROUPING SETS query (median of {len(result['handwritten_runs'])}) | {base:.2f} | 1.0 |",
        f"| dbt_hte SQL models, execution time (sum from run_results.json) | {s['model_execution_seconds']:.2f} "
        f"| {s['models_to_handwritten_ratio']:.1f} |",
    ]
    for layer in LAYERS:
        part = s["by_layer"][layer]
        lines.append(
            f"| · {layer}: {part['share']:.0%} (compile incl. input validation {part['compile_seconds']:.2f} s, "
            f"model statements {part['execute_seconds']:.2f} s) | {part['execution_time']:.2f} "
            f"| {part['execution_time'] / base:.1f} |"
        )
    lines += [
        f"| · hte_segment_stats and the models it reads (the work the hand-written query replaces) "
        f"| {s['segment_stats_path_seconds']:.2f} | {s['segment_stats_path_to_handwritten_ratio']:.1f} |",
        f"| `dbt build` wall time (whole command: start-up, parse, models, tests) | {s['dbt_build_wall_seconds']:.2f} "
        f"| {s['build_wall_to_handwritten_ratio']:.1f} |",
        f"| CPU time: `dbt build` process vs hand-written query process | {s['dbt_build_cpu_seconds']:.2f} vs "
        f"{s['handwritten_process_cpu_seconds_median']:.2f} | {s['build_cpu_to_handwritten_cpu_ratio']:.1f} |",
        "",
        f"Peak RSS: dbt process {s['dbt_peak_rss_bytes'] / gib:.2f} GiB, hand-written query process "
        f"{s['handwritten_peak_rss_bytes'] / gib:.2f} GiB (its DuckDB peak buffer memory "
        f"{result['handwritten_profile']['duckdb_peak_buffer_memory_bytes'] / gib:.2f} GiB). "
        f"hte_segment_stats equals the hand-written result: {'yes' if result['verification']['equal'] else 'NO'} "
        f"({result['verification']['rows_matched']:,} rows, n identical, largest relative difference of a sum "
        f"{max(result['verification']['max_relative_difference'].values()):.1e}).",
        "",
        "| model | layer | materialized | feeds hte_segment_stats | compile s (incl. validation) | statement s "
        "| execution_time s |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    models = [n for n in result["nodes"] if n["resource_type"] == "model"]
    for node in sorted(
        models, key=lambda n: (LAYERS.index(n["layer"]) if n["layer"] in LAYERS else 9, -n["execution_time"])
    ):
        lines.append(
            f"| {node['name']} | {node['layer']} | {node['materialized']} "
            f"| {'yes' if node['feeds_segment_stats'] else ''} | {node['compile_seconds']:.2f} "
            f"| {node['execute_seconds']:.2f} | {node['execution_time']:.2f} |"
        )
    lines += [
        "",
        "Slowest statements dbt ran (from its debug log):",
        "",
        "| seconds | model | statement (start) |",
        "|---:|---|---|",
    ]
    for query in result["slowest_statements"]:
        lines.append(
            f"| {query['seconds']:.2f} | {query['node'].split('.')[-1]} "
            f"| `{query['sql_start'].replace('|', chr(92) + '|')}` |"
        )
    return "\n".join(lines) + "\n"


def build_sql_models(workdir: Path, env: dict):
    """`dbt build` of the SQL models on DuckDB, measured; stops the benchmark when it fails (a failed build's
    timings mean nothing). Returns the measured run and each model's timings."""
    print("DuckDB: dbt build of the SQL models", flush=True)
    build = run_measured(
        dbt_command(["build", "--select", *SQL_SELECTION], workdir),
        env=env,
        cwd=PROJECT,
        log=workdir / "logs" / "build.out",
    )
    if build.returncode != 0:
        fail("dbt build on DuckDB failed; the benchmark needs a passing build:", build.output)
    return build, model_timings(workdir / "target")


def add_output_arguments(parser: argparse.ArgumentParser, workdir: Path) -> None:
    """--workdir (the benchmark's DuckDB file, dbt target and logs; default `workdir`) and --results."""
    parser.add_argument(
        "--workdir", type=Path, default=workdir, help=f"DuckDB file, dbt target and logs (default {workdir})"
    )
    parser.add_argument("--results", type=Path, default=BENCH / "results", help="where the JSON and table go")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000_000, help="units to generate (default 10,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the hand-written query (median reported)")
    add_output_arguments(parser, Path("/tmp/dbt_hte_bench"))
    args = parser.parse_args()
    if args.units < 1000 or args.repeat < 1:
        parser.error("--units must be at least 1000 and --repeat at least 1")

    workdir, database, env = bench_workdir(args.workdir)

    load_before = os.getloadavg()[0]
    # dbt appends to its log; this run's statements must be the only ones in it
    (workdir / "logs" / "dbt.log").unlink(missing_ok=True)
    print(f"generating {args.units:,} units into {database}", flush=True)
    inputs = generate_inputs(database, args.units)

    parse = prepare_project(workdir, env)

    build, nodes = build_sql_models(workdir, env)
    run_elapsed = json.loads((workdir / "target" / "run_results.json").read_text())["elapsed_time"]

    statements = query_timings(workdir / "logs" / "dbt.log")

    print(f"hand-written query × {args.repeat}", flush=True)
    baseline_runs = [run_baseline(database, workdir, env) for _ in range(args.repeat)]
    args.results.mkdir(parents=True, exist_ok=True)
    profile_path = args.results / f"sql_bench_{args.units}_handwritten_profile.json"
    handwritten_profile = run_baseline(database, workdir, env, profile=profile_path)

    verification = verify(database)
    result = {
        "units": args.units,
        "command": " ".join(["bench/run_sql_bench.py", *sys.argv[1:]]).strip(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": {
            "cpu_count": os.cpu_count(),
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "dbt_core": subprocess.run([DBT, "--version"], capture_output=True, text=True, env=env)
            .stdout.split("installed:")[-1]
            .split()[0]
            .strip(),
        },
        "inputs": inputs,
        "dbt_parse": {"wall_seconds": parse.wall_seconds},
        "summary": summarise(nodes, build, run_elapsed, baseline_runs),
        "handwritten_runs": baseline_runs,
        "handwritten_profile": handwritten_profile,
        "verification": verification,
        "nodes": nodes,
        "slowest_statements": [
            {"node": q["node"], "seconds": q["seconds"], "sql_start": " ".join(q["sql"].split())[:160]}
            for q in sorted(statements, key=lambda q: -q["seconds"])[:SLOWEST_STATEMENTS]
        ],
    }
    stem = args.results / f"sql_bench_{args.units}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))
    print(f"written: {stem}.json, {stem}.md")
    if not verification["equal"]:
        fail(f"hte_segment_stats differs from the hand-written query: {json.dumps(verification)}")


if __name__ == "__main__":
    main()
