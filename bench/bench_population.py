"""Scoring a large population (issue 15): time and peak memory of hte_population_targeting and
hte_population_drift on DuckDB, the way dbt-duckdb runs them (relations in, an Arrow stream out, written while the
next batch is scored).

    .venv/bin/python bench/bench_population.py --db <a built database> --units 10000000

``--db`` is a DuckDB file where examples/policy_loop (or the demo with a population) was built: its
hte_deployment_runs (the demo's fitted models) and stg_hte_experiments are copied. The population is generated in
DuckDB itself (the demo's coupon customers: four customer types, margins, visits, tenure, device; the email
experiment's features empty), so the Python process never holds it. Each size runs in its own process, so the
peak resident memory (ru_maxrss) is that size's. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hte_engine.targeting.population import PopulationSettings, population_drift_table, population_targeting_table  # noqa: E402

POPULATION_SQL = """
create table population as
with raw as (
    select i, hash(i, 'type') % 100 as t, hash(i, 'device') % 10 as d,
           (hash(i, 'visits') % 100000) / 100000.0 as v, (hash(i, 'tenure') % 100000) / 100000.0 as w
    from range(1, {n} + 1) r(i)
)
select
    'pop_' || lpad(cast(i as varchar), 9, '0') as unit_id,
    timestamp '2026-03-31 06:00:00' as features_at,
    case when t < 42 then 'brand_loyalist' when t < 64 then 'occasional_shopper'
         when t < 84 then 'deal_hunter' else 'premium_connoisseur' end as customer_type,
    case when t < 64 then 2.5 when t < 84 then 1.1 else 4.5 end as margin,
    round(case when t < 42 then 18 when t < 64 then 1.2 when t < 84 then 2.5 else 6 end * (0.3 + 1.4 * v), 1)
        as visits_per_month,
    cast(30 + round(w * 2500) as integer) as tenure_days,
    case when d < 6 then 'mobile' when d < 9 then 'desktop' else 'tablet' end as device,
    cast(null as varchar) as history_segment,
    cast(null as double) as engagement_score,
    cast(null as varchar) as engagement_band,
    true as is_eligible,
    cast(null as varchar) as ineligible_reason,
    0 as n_recent_contacts,
    false as is_frequency_capped,
    cast(floor((i - 1) / {batch}) as integer) as batch_id
from raw
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=200_000)
    parser.add_argument("--policy", default="threshold")
    parser.add_argument("--threads", type=int, default=2)
    # DuckDB's buffer pool keeps written pages in memory up to its limit (80% of RAM by default), which would hide
    # the Python side's footprint in the peak; a limit separates the two.
    parser.add_argument("--duckdb-memory", default=None, help="e.g. 300MB")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench_population_"))
    con = duckdb.connect(str(workdir / "bench.duckdb"))
    con.execute(f"set threads = {args.threads}")
    if args.duckdb_memory:
        con.execute(f"set memory_limit = '{args.duckdb_memory}'")
    con.execute(f"attach '{args.db}' as built (read_only)")
    con.execute("create table runs as select * from built.hte_deployment_runs")
    con.execute("create table experiments as select * from built.stg_hte_experiments")
    con.execute("create table features as select * from built.stg_hte_unit_features")
    con.execute("create table assignments as select * from built.stg_hte_assignments")
    con.execute("detach built")
    started = time.perf_counter()
    con.execute(POPULATION_SQL.format(n=int(args.units), batch=int(args.batch_size)))
    generated = time.perf_counter() - started

    meta = {
        "run_date": "2026-04-01",
        "targeting_economics": {"coupon_push": {"benefit_column": "margin"}},
        "targeting_policy": args.policy,
        "targeting_capacity": args.units // 10,
        "population_holdout_share": 0.05,
        "population_exploration_share": 0.05,
    }
    settings = PopulationSettings.from_meta(meta)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    # The model reads through its own cursor while the connection writes the stream (as dbt-duckdb does).
    cur = con.cursor()
    stream = population_targeting_table(
        cur.table("population"), cur.table("runs"), cur.table("experiments"), settings, session=con
    )
    con.register("scored_stream", stream)
    con.execute("create table targeting as select * from scored_stream")
    con.unregister("scored_stream")
    targeting_s = time.perf_counter() - started
    started = time.perf_counter()
    drift = population_drift_table(
        cur.table("population"),
        cur.table("runs"),
        cur.table("features"),
        cur.table("assignments"),
        cur.table("experiments"),
        settings,
        session=con,
    )
    con.register("drift_stream", drift)
    con.execute("create table drift as select * from drift_stream")
    con.unregister("drift_stream")
    drift_s = round(time.perf_counter() - started, 1)
    summary = con.execute(
        "select experiment_id, decision, count(*) from targeting group by all order by all"
    ).fetchall()
    print(
        json.dumps(
            {
                "units": args.units,
                "batch_size": args.batch_size,
                "policy": args.policy,
                "threads": args.threads,
                "duckdb_memory": args.duckdb_memory,
                "generate_s": round(generated, 1),
                "targeting_s": round(targeting_s, 1),
                "rows_written": int(con.execute("select count(*) from targeting").fetchall()[0][0]),
                "peak_rss_mb_before": round(rss_before / 1024),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "drift_s": drift_s,
                "decisions": summary,
                "cpu": os.cpu_count(),
            }
        )
    )
    con.close()


if __name__ == "__main__":
    main()
