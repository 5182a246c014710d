"""Benchmark the interaction regression fit from cells against statsmodels OLS on the unit rows, in one run.

    .venv/bin/python bench/bench_regression.py                    # 10 million units, then 100 million (cells only)
    .venv/bin/python bench/bench_regression.py --units 1000000 --big-units 0   # smoke run

Data: units generated inside DuckDB (never in Python), a 50/50 treatment, dimension `a` with 5 levels and `b`
with 20, and a continuous heteroskedastic outcome whose effect differs by segment. The model is the adjusted
interaction regression y ~ T + a + b + T:a + T:b (48 coefficients), HC1 errors.

Contenders, each in a fresh subprocess so peak memory is its own:
  cells        DuckDB GROUP BY to (arm, a, b) cells, then hte_engine's whole regression table from the cells
               (every marginal model, the adjusted model, segment effects, Wald tests, shrinkage).
  statsmodels  the unit rows fetched as NumPy arrays, the 48-column design built with NumPy, then
               statsmodels OLS(y, X).fit(cov_type='HC1') (arrays, not the formula interface: patsy would add
               its own copies of a 10-million-row design on top).
  cells_big    the cells path at --big-units, with the units generated and grouped inside one DuckDB query.

Both fits must agree (coefficients and standard errors to 1e-9 relative): a benchmark of a wrong answer is
worthless, so a mismatch fails the run. Peak memory: resident set size of the process (includes DuckDB's own
buffers) and tracemalloc's peak of Python-side allocations (NumPy arrays, pandas frames) during the timed step.

Results: bench/results/regression_bench_<units>.json and .md, and a summary table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
LEVELS_A, LEVELS_B = 5, 20
RTOL = 1e-9

# One 64-bit hash of the row number gives reproducible draws without a Python-side random generator: its bit
# fields are independent, whereas hashes of (i, k) for different k turned out correlated in their low bits
# (treatment and the parity of b were aliased). Box-Muller turns two 21-bit uniforms into a normal draw.
UNITS_SQL = """
select
    t, a, b,
    1.0 + 0.10 * a + 0.05 * b
        + t * (0.20 + 0.15 * (a = 1)::int - 0.10 * (b < 5)::int)
        + (1.0 + 0.2 * a) * sqrt(-2.0 * ln(u1)) * cos(2.0 * pi() * u2) as y
from (
    select
        (h % 2)::integer as t,
        ((h >> 1) % {levels_a})::integer as a,
        ((h >> 8) % {levels_b})::integer as b,
        (((h >> 20) % 2097152) + 0.5) / 2097152.0 as u1,
        (((h >> 42) % 2097152) + 0.5) / 2097152.0 as u2
    from (select hash(i) as h from range({units}) r(i))
)
"""

CELLS_SQL = "select t, a, b, count(*) as n, sum(y) as sum_y, sum(y * y) as sum_y2 from ({source}) group by t, a, b"


def peak_rss_bytes() -> int:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def cpu_seconds() -> float:
    # Wall time on a shared machine includes waiting for a core; CPU time is the work done.
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def level_names() -> tuple[list[str], list[str]]:
    return [f"a{i}" for i in range(LEVELS_A)], [f"b{i:02d}" for i in range(LEVELS_B)]


def run_cells(units: int, materialised: bool) -> dict:
    import pandas as pd

    from hte_engine.regression.interactions import RegressionSettings, interaction_regressions_from_cells

    con = duckdb.connect()
    if materialised:
        con.execute(f"create table units as {UNITS_SQL.format(units=units, levels_a=LEVELS_A, levels_b=LEVELS_B)}")
        source = "select * from units"
    else:
        source = UNITS_SQL.format(units=units, levels_a=LEVELS_A, levels_b=LEVELS_B)
    names_a, names_b = level_names()
    tracemalloc.start()
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    cells = con.execute(CELLS_SQL.format(source=source)).df()
    grouped = time.perf_counter()
    cells = pd.DataFrame(
        {
            "experiment_id": "bench",
            "metric": "y",
            "arm": np.where(cells["t"] == 1, "treatment", "control"),
            "a": np.asarray(names_a)[cells["a"]],
            "b": np.asarray(names_b)[cells["b"]],
            "n": cells["n"].astype(float),
            "sum_y": cells["sum_y"],
            "sum_y2": cells["sum_y2"],
        }
    )
    experiments = pd.DataFrame({"experiment_id": "bench", "arm": ["control", "treatment"], "is_control": [True, False]})
    settings = RegressionSettings(cov_type="HC1", reference_segments={"a": names_a[0], "b": names_b[0]})
    table = interaction_regressions_from_cells(cells, experiments, ["a", "b"], settings)
    done = time.perf_counter()
    cpu = cpu_seconds() - cpu_start
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    adjusted = table[
        (table["model"] == "adjusted") & table["role"].isin(["baseline", "treatment", "segment", "interaction"])
    ]
    return {
        "contender": "cells_big" if not materialised else "cells",
        "units": units,
        "cells": len(cells),
        "seconds": done - start,
        "cpu_seconds": cpu,
        "seconds_group_by": grouped - start,
        "seconds_fit": done - grouped,
        "rows_out": len(table),
        "peak_rss_bytes": peak_rss_bytes(),
        "python_peak_bytes": python_peak,
        "terms": adjusted["term"].tolist(),
        "params": adjusted["estimate"].tolist(),
        "bse": adjusted["std_error"].tolist(),
    }


def run_statsmodels(units: int) -> dict:
    import statsmodels.api as sm

    con = duckdb.connect()
    con.execute(f"create table units as {UNITS_SQL.format(units=units, levels_a=LEVELS_A, levels_b=LEVELS_B)}")
    tracemalloc.start()
    cpu_start = cpu_seconds()
    start = time.perf_counter()
    arrays = con.execute("select t, a, b, y from units").fetchnumpy()
    fetched = time.perf_counter()
    t = arrays["t"].astype(np.float64)
    a, b, y = arrays["a"], arrays["b"], np.asarray(arrays["y"], dtype=np.float64)
    # Column order of hte_engine's design: intercept, treatment, a levels, b levels, T:a levels, T:b levels.
    x = np.empty((units, 2 + 2 * (LEVELS_A - 1 + LEVELS_B - 1)))
    x[:, 0] = 1.0
    x[:, 1] = t
    col = 2
    for codes, levels in ((a, LEVELS_A), (b, LEVELS_B)):
        for level in range(1, levels):
            x[:, col] = codes == level
            col += 1
    for j in range(2, col):
        x[:, col] = x[:, j] * t
        col += 1
    del arrays
    fit = sm.OLS(y, x).fit(cov_type="HC1")
    params, bse = fit.params.tolist(), fit.bse.tolist()
    done = time.perf_counter()
    cpu = cpu_seconds() - cpu_start
    python_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "contender": "statsmodels",
        "units": units,
        "seconds": done - start,
        "cpu_seconds": cpu,
        "seconds_fetch": fetched - start,
        "seconds_fit": done - fetched,
        "peak_rss_bytes": peak_rss_bytes(),
        "python_peak_bytes": python_peak,
        "params": params,
        "bse": bse,
    }


def in_subprocess(contender: str, units: int) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, "--contender", contender, "--units", str(units)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def max_relative_difference(ours: list[float], reference: list[float]) -> float:
    ours_a, ref_a = np.asarray(ours), np.asarray(reference)
    return float(np.max(np.abs(ours_a - ref_a) / np.abs(ref_a)))


def gib(value: float) -> str:
    return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=10_000_000)
    parser.add_argument("--big-units", type=int, default=100_000_000, help="cells-only run; 0 skips it")
    parser.add_argument("--contender", choices=["cells", "statsmodels", "cells_big"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.contender:
        runner = {
            "cells": lambda: run_cells(args.units, materialised=True),
            "cells_big": lambda: run_cells(args.units, materialised=False),
            "statsmodels": lambda: run_statsmodels(args.units),
        }[args.contender]
        print(json.dumps(runner()))
        return 0

    cells = in_subprocess("cells", args.units)
    reference = in_subprocess("statsmodels", args.units)
    big = in_subprocess("cells_big", args.big_units) if args.big_units else None
    params_diff = max_relative_difference(cells["params"], reference["params"])
    bse_diff = max_relative_difference(cells["bse"], reference["bse"])
    same = params_diff <= RTOL and bse_diff <= RTOL
    result = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "duckdb": duckdb.__version__},
        "model": "y ~ T + a + b + T:a + T:b, HC1 (48 coefficients); a 5 levels, b 20 levels",
        "units": args.units,
        "cells": {k: v for k, v in cells.items() if k not in ("params", "bse", "terms")},
        "statsmodels": {k: v for k, v in reference.items() if k not in ("params", "bse")},
        "cells_big": {k: v for k, v in big.items() if k not in ("params", "bse", "terms")} if big else None,
        "speed_ratio": reference["seconds"] / cells["seconds"],
        "cpu_ratio": reference["cpu_seconds"] / cells["cpu_seconds"],
        "load_average_after": os.getloadavg(),
        "max_relative_difference": {"params": params_diff, "std_errors": bse_diff},
        "same_answer": same,
    }

    def row(name: str, run: dict) -> tuple:
        return name, run["units"], run["seconds"], run["cpu_seconds"], run["peak_rss_bytes"], run["python_peak_bytes"]

    rows = [row("cells: DuckDB GROUP BY + hte_engine fit", cells), row("statsmodels OLS HC1 on unit arrays", reference)]
    if big:
        rows.append(row("cells at scale (units never in Python)", big))
    lines = [
        f"# Interaction regression from cells vs statsmodels ({result['generated_at']})",
        "",
        f"Model: {result['model']}. Same answer (1e-9 relative): **{same}** "
        f"(max relative difference: coefficients {params_diff:.1e}, standard errors {bse_diff:.1e}).",
        "",
        "| contender | units | wall seconds | CPU seconds | peak RSS | Python-side peak (tracemalloc) |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {name} | {units:,} | {secs:.2f} | {cpu:.2f} | {gib(rss)} | {gib(py)} |"
            for name, units, secs, cpu, rss, py in rows
        ],
        "",
        f"Speed ratio (statsmodels / cells): **{result['speed_ratio']:.0f}x** wall, "
        f"**{result['cpu_ratio']:.0f}x** CPU (load average after the run: "
        f"{', '.join(f'{v:.1f}' for v in result['load_average_after'])}). "
        f"Cells: GROUP BY {cells['seconds_group_by']:.2f} s + fit of the whole table {cells['seconds_fit']:.2f} s "
        f"({cells['rows_out']} rows). statsmodels: fetch {reference['seconds_fetch']:.2f} s + design and fit "
        f"{reference['seconds_fit']:.2f} s. Unit generation inside DuckDB is not timed for either at --units; "
        "at scale it is part of the one GROUP BY query, so that time is mostly DuckDB drawing "
        f"{args.big_units:,} rows.",
    ]
    markdown = "\n".join(lines) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"regression_bench_{args.units}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"regression_bench_{args.units}.md").write_text(markdown)
    print(markdown)
    if not same:
        print("FAILED: the cell fit and statsmodels disagree beyond 1e-9 relative.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
