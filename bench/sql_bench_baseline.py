"""Run the hand-written GROUPING SETS query (bench/sql/handwritten_segment_stats.sql) once, in its own process.

bench/run_sql_bench.py starts this as a child so that the query gets a cold DuckDB (fresh buffer pool, like each
dbt invocation) and its peak RSS is measured apart from the bench's own. Prints one JSON object: the query's
seconds and, with --profile, DuckDB's peak buffer memory and the profile written to that path.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb

QUERY = Path(__file__).resolve().parent / "sql" / "handwritten_segment_stats.sql"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database", type=Path)
    parser.add_argument("--profile", type=Path, help="write DuckDB's JSON profile of the query here")
    args = parser.parse_args()

    sql = QUERY.read_text()
    with duckdb.connect(str(args.database)) as con:
        if args.profile:
            # coverage ALL: CREATE TABLE AS is not a SELECT; the profile of the last statement (the query) survives
            con.execute("set enable_profiling = 'json'")
            con.execute("set profiling_coverage = 'ALL'")
            con.execute("set tracked_metrics = ['*']")
            con.execute(f"set profiling_output = '{args.profile}'")
        started = time.perf_counter()
        con.execute(sql)
        seconds = time.perf_counter() - started

    report: dict = {"seconds": seconds}
    if args.profile:
        profile = json.loads(args.profile.read_text())
        report["duckdb_peak_buffer_memory_bytes"] = profile["system"]["peak_buffer_memory"]
        report["duckdb_bytes_spilled"] = profile["system"]["total_bytes_spilled"]
    print(json.dumps(report))


if __name__ == "__main__":
    main()
