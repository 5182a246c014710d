"""macros/export/hte_export_parquet.sql: every output table as Parquet, replaced atomically on the next run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pytest

from dbt_runner import private_copy, run_dbt
from user_project import UserProject


def export(demo_build, directory, tables=None):
    args = {"directory": str(directory)}
    if tables is not None:
        args["tables"] = tables
    # a copy of the demo warehouse (run-operation opens it for writing; the demo build is shared read-only)
    return run_dbt(["run-operation", "hte_export_parquet", "--args", str(args)], private_copy(demo_build))


def test_every_output_table_is_exported_with_all_its_rows(demo_build, tmp_path):
    result = export(demo_build, tmp_path)
    assert result.ok, result.output[-4000:]
    built = set(
        demo_build.query(
            "select table_name from information_schema.tables "
            "where table_schema = 'main' and table_type = 'BASE TABLE' and table_name like 'hte\\_%' escape '\\' "
            "and table_name not like 'hte\\_demo\\_%' escape '\\'"
        )["table_name"]
    )
    files = {p.name for p in tmp_path.iterdir()}
    # and no tmp_ file left behind; the BI database of views beside them
    assert files == {f"{name}.parquet" for name in built} | {"hte_bi.duckdb"}
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
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hte_bi.duckdb", "hte_checks.parquet"]
    with duckdb.connect() as con:
        assert con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0] == len(
            demo_build.table("hte_checks")
        )


def test_export_errors_name_the_fix(demo_build, tmp_path):
    unknown = export(demo_build, tmp_path, ["hte_segment_lift"])
    assert not unknown.ok
    assert "cannot export hte_segment_lift: not a dbt_hte output table. Choose among" in unknown.output
    no_directory = run_dbt(["run-operation", "hte_export_parquet"], private_copy(demo_build))
    assert not no_directory.ok
    assert "needs the folder to write to" in no_directory.output


def test_the_folder_and_its_parents_are_created_and_nothing_else_is_touched(demo_build, tmp_path):
    (tmp_path / "keep.txt").write_text("a file of the user's")
    target = tmp_path / "new" / "exports"
    result = export(demo_build, target, ["hte_checks"])
    assert result.ok, result.output[-4000:]
    assert sorted(p.name for p in target.iterdir()) == ["hte_bi.duckdb", "hte_checks.parquet"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "new"]
    assert (tmp_path / "keep.txt").read_text() == "a file of the user's"


def test_counts_are_exported_as_integers(demo_build, tmp_path):
    # DuckDB sums integers into HUGEINT, which Parquet stores as DOUBLE: the export casts them to BIGINT
    hugeint = demo_build.query(
        "select table_name, column_name from information_schema.columns where table_schema = 'main' "
        "and data_type = 'HUGEINT' and table_name in ('hte_segment_stats', 'hte_segment_lifts')"
    )
    assert len(hugeint) > 0  # the warehouse really holds HUGEINT counts, so the cast is exercised
    assert export(demo_build, tmp_path, ["hte_segment_stats", "hte_segment_lifts"]).ok
    with duckdb.connect() as con:
        for row in hugeint.itertuples():
            path = tmp_path / f"{row.table_name}.parquet"
            types = dict(
                con.execute(
                    f"select column_name, column_type from (describe select * from read_parquet('{path}'))"
                ).fetchall()
            )
            assert types[row.column_name] == "BIGINT", (row.table_name, row.column_name, types[row.column_name])
            exported = con.execute(f"select sum({row.column_name}) from read_parquet('{path}')").fetchone()[0]
            assert exported == int(demo_build.table(row.table_name)[row.column_name].sum())


def test_the_bi_database_holds_only_views_over_the_files(demo_build, tmp_path):
    assert export(demo_build, tmp_path, ["hte_checks", "hte_segment_lifts"]).ok
    with duckdb.connect(str(tmp_path / "hte_bi.duckdb"), read_only=True) as con:
        tables = con.execute("select table_name, table_type from information_schema.tables order by 1").fetchall()
        assert tables == [("hte_checks", "VIEW"), ("hte_segment_lifts", "VIEW")]
        assert con.execute("select count(*) from hte_segment_lifts").fetchone()[0] == len(
            demo_build.table("hte_segment_lifts")
        )
        definition = con.execute("select sql from duckdb_views() where view_name = 'hte_checks'").fetchone()[0]
        assert f"read_parquet('{tmp_path}/hte_checks.parquet')" in definition
    # A BI tool keeps it open (read-write, as most do): the next export neither waits on it nor rewrites it.
    with duckdb.connect(str(tmp_path / "hte_bi.duckdb")) as bi:
        inode = os.stat(tmp_path / "hte_bi.duckdb").st_ino
        result = export(demo_build, tmp_path, ["hte_checks"])
        assert result.ok, result.output[-4000:]
        assert os.stat(tmp_path / "hte_bi.duckdb").st_ino == inode
        assert bi.execute("select count(*) from hte_checks").fetchone()[0] == len(demo_build.table("hte_checks"))


# A BI tool's reading loop, run as its own process the way a dashboard would: it connects to the BI database, reads
# every view, and globs the published files; every error is counted, with its message.
READER = """
import os, sys, time, duckdb
directory, stop, deadline = sys.argv[1], sys.argv[2], time.time() + 900
reads = errors = 0
messages = set()
while not os.path.exists(stop) and time.time() < deadline:
    for attempt in ("views", "glob"):
        try:
            if attempt == "views":
                with duckdb.connect(directory + "/hte_bi.duckdb") as con:
                    for (name,) in con.execute("select table_name from information_schema.tables").fetchall():
                        con.execute(f'select count(*) from "{name}"').fetchone()
            else:
                with duckdb.connect() as con:
                    published = f"read_parquet('{directory}/hte_*.parquet', union_by_name=true)"
                    con.execute(f"select count(*) from {published}").fetchone()
            reads += 1
        except Exception as error:
            errors += 1
            messages.add(str(error)[:300])
print(reads, errors, sorted(messages))
"""


@pytest.mark.slow
def test_a_bi_tool_reads_while_dbt_builds_and_exports_from_its_on_run_end_hook(tmp_path):
    project = UserProject(tmp_path, on_run_end=["{{ dbt_hte.hte_export_parquet('exports') }}"])
    first = project.dbt("build", "--select", "+hte_segment_lifts", "+hte_segment_differences")
    assert first.ok, first.output[-6000:]
    exports = project.dir / "exports"  # relative to the project folder
    assert (exports / "hte_bi.duckdb").exists() and (exports / "hte_segment_lifts.parquet").exists()
    inode = os.stat(exports / "hte_segment_lifts.parquet").st_ino
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(exports), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(2)
        builds = [project.dbt("build", "--select", "+hte_segment_lifts", "+hte_segment_differences") for _ in range(2)]
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=120)
    for build in builds:
        assert build.ok, build.output[-6000:]  # the reader never blocked the build
        assert "OK hook: hte_user.on-run-end.0" in build.output
    assert os.stat(exports / "hte_segment_lifts.parquet").st_ino != inode  # the files were replaced meanwhile
    reads, errors, messages = out.split(" ", 2)
    assert int(errors) == 0, messages
    assert int(reads) >= 20, out  # it really read throughout the builds
