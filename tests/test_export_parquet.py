"""macros/export/hte_export_parquet.sql: every output table as Parquet, replaced atomically on the next run."""

from __future__ import annotations

import os

import duckdb

from dbt_runner import run_dbt


def export(demo_build, directory, tables=None):
    args = {"directory": str(directory)}
    if tables is not None:
        args["tables"] = tables
    # The demo build's own folder: run_dbt then points at the demo's DuckDB file.
    return run_dbt(["run-operation", "hte_export_parquet", "--args", str(args)], demo_build.db_path.parent)


def test_every_output_table_is_exported_with_all_its_rows(demo_build, tmp_path):
    result = export(demo_build, tmp_path)
    assert result.ok, result.output[-4000:]
    built = set(demo_build.query(
        "select table_name from information_schema.tables where table_schema = 'main' and table_type = 'BASE TABLE' "
        "and table_name like 'hte\\_%' escape '\\' and table_name not like 'hte\\_demo\\_%' escape '\\'"
    )["table_name"])
    files = {p.name for p in tmp_path.iterdir()}
    assert files == {f"{name}.parquet" for name in built}  # and no tmp_ file left behind
    with duckdb.connect() as con:
        for name in sorted(built):
            exported = con.execute(f"select count(*) from read_parquet('{tmp_path / name}.parquet')").fetchone()[0]
            assert exported == len(demo_build.table(name)), name


def test_a_rerun_replaces_each_file_by_rename_never_in_place(demo_build, tmp_path):
    assert export(demo_build, tmp_path, ["hte_checks"]).ok
    path = tmp_path / "hte_checks.parquet"
    before = path.read_bytes()
    inode = os.stat(path).st_ino
    with open(path, "rb") as reader:  # a BI tool holding the file open while the next run writes
        result = export(demo_build, tmp_path, ["hte_checks"])
        assert result.ok, result.output[-4000:]
        assert reader.read() == before  # the reader still sees the whole previous file
    assert os.stat(path).st_ino != inode  # a new file was renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["hte_checks.parquet"]
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0] == len(
            demo_build.table("hte_checks"))


def test_export_errors_name_the_fix(demo_build, tmp_path):
    unknown = export(demo_build, tmp_path, ["hte_segment_lift"])
    assert not unknown.ok
    assert "cannot export hte_segment_lift: not a dbt_hte output table. Choose among" in unknown.output
    no_directory = run_dbt(["run-operation", "hte_export_parquet"], demo_build.db_path.parent)
    assert not no_directory.ok
    assert "needs the folder to write to" in no_directory.output
