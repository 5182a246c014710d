"""The tables built one comparison at a time reach DuckDB as a stream when the session is the one dbt-duckdb hands
a Python model (a wrapped cursor), so the model holds one comparison's rows at a time; DuckDB's own memory limit
leaves room for the Python side (hte_engine/io.py: stream_table, bound_duckdb_memory)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from dbt.adapters.duckdb.environments import RetryableCursor
from dbt.adapters.duckdb.environments.local import DuckDBCursorWrapper

from hte_engine import io

SCHEMA = {"comparison": "string", "value": "float64"}


def test_the_cursors_dbt_duckdb_hands_a_python_model_count_as_duckdb():
    con = duckdb.connect()
    wrapped = DuckDBCursorWrapper(con.cursor())
    for session in (con, con.cursor(), wrapped, RetryableCursor(wrapped, 2, [])):
        assert io._is_duckdb(session), type(session)
    for other in (None, pd.DataFrame(), object()):
        assert not io._is_duckdb(other)


def test_stream_table_pulls_one_comparison_at_a_time_from_a_dbt_session():
    pulled = []

    def frames():
        for name in ("a", "b", "c"):
            pulled.append(name)
            # a concatenation, as the targeting frames are: pandas 3 keeps its strings as chunked Arrow
            yield pd.concat(
                [
                    pd.DataFrame({"comparison": [name], "value": [1.0]}),
                    pd.DataFrame({"comparison": [name] * 2, "value": [2.0, 3.0]}),
                ],
                ignore_index=True,
            )

    con = duckdb.connect()
    stream = io.stream_table(frames(), SCHEMA, DuckDBCursorWrapper(con.cursor()))
    assert isinstance(stream, pa.RecordBatchReader) and pulled == []  # nothing computed before DuckDB reads
    first = stream.read_next_batch()
    assert pulled == ["a"] and first.column("comparison").to_pylist() == ["a"] * first.num_rows
    con.register("rest", stream)
    rest = con.execute("select comparison, count(*) from rest group by all order by 1").fetchall()
    assert rest == [("a", 3 - first.num_rows), ("b", 3), ("c", 3)] and pulled == ["a", "b", "c"]


@pytest.mark.parametrize("preset, lowered", [(None, True), ("1GiB", False)])
def test_duckdbs_default_memory_limit_is_lowered_and_a_chosen_one_kept(preset, lowered, tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    if preset:
        con.execute(f"set memory_limit = '{preset}'")
    before = io._duckdb_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0])
    messages = []
    cursor = con.cursor()
    relation = cursor.query("select 42 as answer")  # what dbt.ref gives a model: a relation of its cursor
    io.bound_duckdb_memory(DuckDBCursorWrapper(cursor), log=messages.append)
    assert relation.df()["answer"].tolist() == [42]  # no unfinished result left on the model's cursor
    after = io._duckdb_bytes(con.execute("select current_setting('memory_limit')").fetchone()[0])
    if lowered and before >= 0.75 * io.physical_memory_bytes():
        assert after == pytest.approx(io.DUCKDB_MEMORY_SHARE * io.physical_memory_bytes(), rel=0.03)
        assert len(messages) == 1 and "lowered" in messages[0]
    else:
        assert after == before and messages == []


def test_duckdb_sizes_parse_in_every_unit_duckdb_prints():
    assert io._duckdb_bytes("18.8 GiB") == pytest.approx(18.8 * 2**30)
    assert io._duckdb_bytes("953.6 MiB") == pytest.approx(953.6 * 2**20)
    assert io._duckdb_bytes("2GB") == 2e9
    assert io._duckdb_bytes("unlimited") is None
