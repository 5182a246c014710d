"""dbt_hte's SQL layer on three engines: DuckDB, a real PostgreSQL server and Apache Spark (local mode).

Each engine builds every SQL model (models/, not python_models/) on the bundled demo and on the Hillstrom
integration data, from identical input tables (tests/adapter_builds.py). Every output table must then agree with
DuckDB's: the same models, the same columns, the same rows after a stable sort, every text, boolean and timestamp
value (verdicts, check statuses, messages) identical, and every number equal to RELATIVE_TOLERANCE.

Tolerance: the engines add the same doubles in different orders (parallel partial sums), which can move a sum by
a unit in the last place; 1e-12 relative leaves room for that and for its propagation through the statistics,
and nothing more. Measured: every number of every table agrees to 1e-12 relative to the larger of the two values,
with no absolute floor, on both data sets.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from adapter_builds import (EngineBuild, build_duckdb, build_postgres, build_spark, demo_dataset, hillstrom_dataset,
                            start_postgres, stop_postgres)
from dbt_runner import DBT, REPO, SHARED_DATA

RELATIVE_TOLERANCE = 1e-12
DATASETS = ("demo", "hillstrom")
OTHER_ENGINES = ("postgres", "spark")
# Every engine on every data set. (A Spark-only null p-value once came from joining chi-square results back on a
# recomputed double; macros/stats/chi2.sql now joins on the row keys. The message below names a differing row.)
PAIRS = [(engine, dataset) for engine in OTHER_ENGINES for dataset in DATASETS]


@pytest.fixture(scope="session")
def adapter_datasets(tmp_path_factory):
    if not (SHARED_DATA / "hillstrom.csv").exists():
        pytest.fail(f"The Hillstrom data are missing: expected {SHARED_DATA / 'hillstrom.csv'} "
                    "(set HTE_SHARED_DATA_DIR).")
    root = tmp_path_factory.mktemp("adapter_inputs")
    return {"demo": demo_dataset(root / "demo"), "hillstrom": hillstrom_dataset(root / "hillstrom")}


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster for the session; stopped (and its directory removed) however tests end."""
    server = start_postgres()
    yield server
    stop_postgres(server)


@pytest.fixture(scope="session")
def engine_builds(adapter_datasets, postgres_server, tmp_path_factory) -> dict[tuple[str, str], EngineBuild]:
    """Every engine × data set, built once. Spark runs in its own process (its JVM), alongside the other two."""
    root = tmp_path_factory.mktemp("adapter_builds")
    builds: dict[tuple[str, str], EngineBuild] = {}
    with ThreadPoolExecutor(max_workers=1) as spark_pool:
        spark_job = spark_pool.submit(build_spark, [data for name, data in adapter_datasets.items()
                                                    if ("spark", name) in PAIRS], root / "spark")
        for name, data in adapter_datasets.items():
            builds["duckdb", name] = build_duckdb(data, root / f"duckdb_{name}")
            builds["postgres", name] = build_postgres(postgres_server, data, root / f"postgres_{name}")
        for name, build in spark_job.result().items():
            builds["spark", name] = build
    for (engine, name), build in sorted(builds.items()):
        timings = f" ({', '.join(f'{k} {v:.1f}' for k, v in build.timings.items())})" if build.timings else ""
        print(f"\n{engine:8s} {name:9s} dbt build of the SQL layer: {build.seconds:.1f} s{timings}")
    return builds


# ------------------------------------------------------------------------------------------------ comparison
def _is_number(series: pd.Series) -> bool:
    values = series.dropna()
    if values.empty:  # an all-null column (propensity of the demo) has no type to agree on
        return True
    if pd.api.types.is_bool_dtype(series) or any(isinstance(v, (bool, np.bool_)) for v in values[:50]):
        return False
    return pd.api.types.is_numeric_dtype(series) or (len(values) > 0 and all(
        isinstance(v, (int, float, np.integer, np.floating)) or type(v).__name__ == "Decimal" for v in values))


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-neutral values: numbers as float64 (NaN = null), timestamps as naive UTC, everything else as Python
    objects with None for null."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if _is_number(series):
            out[column] = pd.Series([np.nan if pd.isna(v) else float(v) for v in series.astype(object)],
                                    index=frame.index, dtype=float)
        elif pd.api.types.is_datetime64_any_dtype(series) or any(
                isinstance(v, pd.Timestamp) or type(v).__name__ == "datetime" for v in series.dropna()[:50]):
            stamps = pd.to_datetime(series)
            out[column] = stamps.dt.tz_convert("UTC").dt.tz_localize(None) if stamps.dt.tz is not None else stamps
        else:
            out[column] = pd.Series([None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA
                                     else bool(v) if isinstance(v, (bool, np.bool_)) else v
                                     for v in series.astype(object)], index=frame.index, dtype=object)
    return pd.DataFrame(out)


def stable_sort(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows ordered by every non-numeric column, then by every numeric column rounded to 9 significant digits
    (so that engine noise in the last digits cannot reorder rows); nulls last, as DuckDB and PostgreSQL sort."""
    keys = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if values.dtype == float:
            keys[column] = values.map(lambda v: float(f"{v:.9g}") if np.isfinite(v) else v)
        else:
            keys[column] = values.map(lambda v: "\uffff" if v is None else str(v))
    order = keys.sort_values(list(keys.columns), kind="mergesort", na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def compare_tables(reference: pd.DataFrame, other: pd.DataFrame) -> list[str]:
    """Every difference between two versions of one table, as sentences (empty: they agree)."""
    if list(reference.columns) != list(other.columns):
        return [f"columns differ: {list(reference.columns)} vs {list(other.columns)}"]
    if len(reference) != len(other):
        return [f"{len(reference)} rows vs {len(other)} rows"]
    ref, oth = stable_sort(normalise(reference)), stable_sort(normalise(other))
    problems = []
    for column in ref.columns:
        a, b = ref[column], oth[column]
        if a.dtype == float and b.dtype == float:
            x, y = a.to_numpy(), b.to_numpy()
            if not np.array_equal(np.isnan(x), np.isnan(y)):
                row = int(np.flatnonzero(np.isnan(x) != np.isnan(y))[0])
                labels = {c: ref[c].iloc[row] for c in ref.columns if ref[c].dtype != float}
                problems.append(f"{column}: null in different rows, e.g. {labels}: {x[row]!r} vs {y[row]!r}")
                continue
            both = ~np.isnan(x)
            scale = np.maximum(np.abs(x[both]), np.abs(y[both]))
            err = np.abs(x[both] - y[both]) / np.where(scale > 0, scale, 1.0)  # two zeros agree
            if err.size and err.max() > RELATIVE_TOLERANCE:
                i = int(np.argmax(err))
                problems.append(f"{column}: relative difference {err.max():.2e} "
                                f"({float(x[both][i])!r} vs {float(y[both][i])!r})")
        elif a.dtype == float or b.dtype == float:
            problems.append(f"{column}: numeric on one engine only ({a.dtype} vs {b.dtype})")
        else:
            unequal = [(p, q) for p, q in zip(a, b) if not (p == q or (p is None and q is None))]
            if unequal:
                problems.append(f"{column}: {len(unequal)} values differ, e.g. {unequal[0][0]!r} vs {unequal[0][1]!r}")
    return problems


@pytest.mark.parametrize(("engine", "dataset"), PAIRS)
def test_sql_outputs_match_duckdb(engine_builds, engine, dataset):
    reference, other = engine_builds["duckdb", dataset], engine_builds[engine, dataset]
    assert sorted(other.tables) == sorted(reference.tables), "the engines built different models"
    marts = {"hte_segment_lifts", "hte_segment_differences", "hte_checks", "hte_dimension_tests"}
    assert marts <= set(reference.tables)
    report = {model: compare_tables(reference.tables[model], other.tables[model]) for model in sorted(reference.tables)}
    differing = {model: problems for model, problems in report.items() if problems}
    assert not differing, f"{engine} differs from DuckDB on {dataset}:\n" + json.dumps(differing, indent=1)


@pytest.mark.parametrize("dataset", DATASETS)
def test_engines_reach_the_same_verdicts(engine_builds, dataset):
    """The decisions users act on, spelled out: non-empty, and identical on every engine."""
    verdicts = {}
    for engine in ("duckdb", *OTHER_ENGINES):
        if (engine, dataset) not in engine_builds:
            continue
        lifts = engine_builds[engine, dataset].tables["hte_segment_lifts"]
        verdicts[engine] = sorted(map(tuple, lifts[["experiment_id", "metric", "dimension", "segment", "arm",
                                                    "verdict"]].astype(str).to_numpy()))
    assert any(v[-1] in ("positive", "negative") for v in verdicts["duckdb"]), "no significant lift at all: vacuous"
    assert verdicts["postgres"] == verdicts["duckdb"]
    for engine in set(verdicts) - {"duckdb"}:
        assert verdicts[engine] == verdicts["duckdb"], engine


def test_comparison_detects_a_difference():
    """The comparison itself can fail: a changed verdict, a number off by 1e-9 and a missing row are caught."""
    table = pd.DataFrame({"segment": ["a", "b"], "verdict": ["positive", "inconclusive"], "p_value": [1e-3, 0.4]})
    assert compare_tables(table, table.iloc[::-1]) == []
    assert compare_tables(table, table.assign(verdict=["positive", "negative"]))
    assert compare_tables(table, table.assign(p_value=[1e-3 * (1 + 1e-9), 0.4]))
    assert compare_tables(table, table.iloc[:1])


@pytest.mark.parametrize("target", ["postgres", "spark"])
def test_python_models_are_disabled_and_no_sql_model_needs_one(target, tmp_path):
    """On adapters without Python models the package must still parse and its SQL layer stand alone."""
    env = dict(os.environ, DBT_PROFILES_DIR=str(REPO), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    proc = subprocess.run([DBT, "ls", "--target", target, "--resource-type", "model", "--output", "json",
                           "--output-keys", "unique_id", "original_file_path", "language", "depends_on",
                           "--project-dir", str(REPO), "--target-path", str(tmp_path / "target"),
                           "--log-path", str(tmp_path / "logs")],
                          env=env, capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    nodes = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert any(n["original_file_path"].startswith("models/marts/") for n in nodes), "SQL marts missing from dbt ls"
    assert not [n for n in nodes if n["language"] == "python"], "Python models are enabled on " + target
    python_ids = {f"model.dbt_hte.{p.stem}" for p in (REPO / "python_models").glob("*.py")}
    for node in nodes:
        assert not set(node["depends_on"]["nodes"]) & python_ids, f"{node['unique_id']} depends on a Python model"
