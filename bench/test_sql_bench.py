"""Tests of the bench's own machinery: the dbt log parser and the result check (fast; no dbt run).

.venv/bin/python -m pytest -q bench/test_sql_bench.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbt_query_log import query_timings  # noqa: E402
from run_sql_bench import verify  # noqa: E402

# The shape of dbt 1.11's debug log: two worker threads interleaved, multi-line SQL after the query comment,
# a BEGIN whose status follows another message, and a ThreadPool statement that belongs to no node.
LOG = """\
\x1b[0m22:10:41.100000 [debug] [ThreadPool]: SQL status: OK in 0.073 seconds
\x1b[0m22:10:41.138122 [debug] [Thread-1 (]: On model.dbt_hte.hte_cell_stats: BEGIN
\x1b[0m22:10:41.138293 [debug] [Thread-1 (]: Opening a new connection, currently in state closed
\x1b[0m22:10:41.138945 [debug] [Thread-1 (]: SQL status: OK in 0.001 seconds
\x1b[0m22:10:41.139387 [debug] [Thread-1 (]: On model.dbt_hte.hte_cell_stats: /* {"app": "dbt", "node_id": "model.dbt_hte.hte_cell_stats"} */

  create table "hte"."main"."hte_cell_stats__dbt_tmp" as (
    select 1 as n
  );
\x1b[0m22:10:41.140000 [debug] [Thread-2 (]: On model.dbt_hte.stg_hte_outcomes: /* {"app": "dbt"} */
select * from (select experiment_id, count(*) from outcomes group by 1) hte_check order by 1 limit 5
\x1b[0m22:10:43.640000 [debug] [Thread-2 (]: SQL status: OK in 2.500 seconds
\x1b[0m22:10:53.139387 [debug] [Thread-1 (]: SQL status: OK in 12.250 seconds
"""


def test_query_timings_pairs_each_statement_with_its_thread_status(tmp_path):
    log = tmp_path / "dbt.log"
    log.write_text(LOG)
    timings = query_timings(log)
    assert [(t["node"], t["seconds"]) for t in timings] == [
        ("model.dbt_hte.hte_cell_stats", 0.001),
        ("model.dbt_hte.stg_hte_outcomes", 2.5),
        ("model.dbt_hte.hte_cell_stats", 12.25),
    ]
    assert timings[0]["sql"] == "BEGIN"
    assert timings[1]["sql"].startswith("select * from (select experiment_id")
    assert timings[2]["sql"].startswith('create table "hte"."main"."hte_cell_stats__dbt_tmp"')
    assert timings[2]["sql"].rstrip().endswith(");")


ROWS = [
    ("exp_a", "revenue", "overall", "all", "control", 10, 5.0, 7.0, 3.0, 2.0, 1.5),
    ("exp_a", "revenue", "plan", "paid", "control", 4, 2.0, 3.0, 1.0, 1.0, 0.5),
    ("exp_a", "conversion", "overall", "all", "control", 10, 2.0, 2.0, None, None, None),
]
COLUMNS = "experiment_id, metric, dimension, segment, arm, n, sum_y, sum_y2, sum_x, sum_x2, sum_xy"


def _database(path: Path, baseline_rows: list[tuple]) -> Path:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema bench_baseline")
        for table, rows in (("main.hte_segment_stats", ROWS), ("bench_baseline.segment_stats", baseline_rows)):
            con.execute(
                f"create table {table} (experiment_id varchar, metric varchar, dimension varchar, "
                "segment varchar, arm varchar, n bigint, sum_y double, sum_y2 double, sum_x double, "
                "sum_x2 double, sum_xy double)"
            )
            con.executemany(f"insert into {table} ({COLUMNS}) values ({', '.join(['?'] * 11)})", rows)
    return path


def test_verify_accepts_equal_results_up_to_rounding(tmp_path):
    rounded = [ROWS[0][:6] + (5.0 * (1 + 1e-12),) + ROWS[0][7:]] + ROWS[1:]
    check = verify(_database(tmp_path / "equal.duckdb", rounded))
    assert check["equal"] and check["rows_matched"] == 3


@pytest.mark.parametrize(
    "baseline_rows, problem",
    [
        (ROWS[:2], "rows_only_in_dbt"),
        ([ROWS[0], ROWS[1][:5] + (5,) + ROWS[1][6:], ROWS[2]], "rows_with_different_n"),
        ([ROWS[0][:6] + (5.0 * (1 + 1e-8),) + ROWS[0][7:]] + ROWS[1:], "sum_y"),
        ([ROWS[0], ROWS[1], ROWS[2][:8] + (0.0,) + ROWS[2][9:]], "sum_x"),
    ],
)
def test_verify_rejects_a_missing_row_a_count_a_sum_or_a_null(tmp_path, baseline_rows, problem):
    check = verify(_database(tmp_path / "different.duckdb", baseline_rows))
    assert not check["equal"]
    if problem.startswith("rows"):
        assert check[problem] == 1
    else:
        assert check["max_relative_difference"][problem] > check["relative_tolerance"]
