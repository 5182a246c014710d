"""A tidy warehouse (README "A tidy warehouse"): a project that gives dbt_hte's outputs their own schema and its
internals another, with dbt's `+schema`, gets every output there, every internal apart, nothing of the package in
its own schema, no leftover temporary table after the incremental histories run again, and readers (the summary,
the report, the Parquet export) that find the outputs without being told where."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from hte_engine.report import write_report
from user_project import UserProject

# the block the README gives, as the project's dbt_project.yml holds it
TIDY = {
    "+schema": "hte",
    "staging": {"+schema": "hte_internal"},
    "intermediate": {"+schema": "hte_internal"},
    "internal": {"+schema": "hte_internal"},
    "population": {"internal": {"+schema": "hte_internal"}},
}
INCREMENTAL = ("hte_lift_history", "hte_check_history", "hte_targeting_history", "hte_deployment_run_history")


def relations(db_path) -> dict[str, set[str]]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        rows = con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    found: dict[str, set[str]] = {}
    for schema, name in rows:
        found.setdefault(schema, set()).add(name)
    return found


def test_outputs_and_internals_in_their_own_schemas_and_readers_find_them(tmp_path):
    project = UserProject(tmp_path, package_models=TIDY)
    build = project.dbt("build")
    assert build.ok, build.output[-6000:]
    again = project.dbt("run", "--select", *INCREMENTAL)  # the nightly rerun: incremental models insert
    assert again.ok, again.output[-6000:]

    nodes = [
        n
        for n in project.manifest()["nodes"].values()
        if n["resource_type"] == "model" and n["package_name"] == "dbt_hte"
    ]
    internal = {n["name"] for n in nodes if n["name"].startswith(("stg_hte_", "int_hte_"))}
    # the input rules' table stays with the staging views; every other hte_* model is an output (a few are views)
    outputs = {n["name"] for n in nodes if n["name"].startswith("hte_") and n["name"] != "hte_skipped_experiments"}
    assert {"hte_segment_lifts", "hte_cate_scores", "hte_targeting_history", "hte_cell_stats"} <= outputs
    assert {"stg_hte_assignments", "int_hte_units", "int_hte_model_units", "int_hte_population_units"} <= internal

    built = relations(project.db_path)
    assert outputs | {"dbt_hte_build_log"} <= built["main_hte"], outputs - built["main_hte"]
    assert not built["main_hte"] - outputs - {"dbt_hte_build_log"}, "an internal among the outputs"
    assert internal <= built["main_hte_internal"], internal - built["main_hte_internal"]
    assert built["main"] == {f"user_{name}" for name in ("assignments", "unit_features", "outcomes", "experiments")}
    leftovers = {f"{schema}.{name}" for schema, names in built.items() for name in names if "__dbt_tmp" in name}
    assert not leftovers

    summary = subprocess.run(
        [sys.executable, "-m", "hte_engine.report.summary", str(project.db_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert summary.returncode == 0, summary.stderr
    assert "exp_a" in summary.stdout and "WARNING" not in summary.stdout
    page = write_report(project.db_path, tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'data-experiment="exp_a"' in page and "stale-outputs" not in page

    export = project.dbt("run-operation", "hte_export_parquet", "--args", "{directory: exports}")
    assert export.ok, export.output[-4000:]
    exported = {p.stem for p in (project.dir / "exports").glob("*.parquet")}
    assert {"hte_segment_lifts", "hte_cate_scores", "hte_cell_stats"} <= exported
    with duckdb.connect() as con:
        n = con.execute(f"select count(*) from '{project.dir / 'exports' / 'hte_segment_lifts.parquet'}'").fetchone()[0]
    assert n == len(build.table("hte_segment_lifts", schema="main_hte")) > 0
