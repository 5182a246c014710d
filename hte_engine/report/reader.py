"""Read dbt_hte's output tables for the report: from a DuckDB file, or from any DB-API connection.

A table that was not built (an adapter without Python models, a partial build) reads as None, never as an error:
the report says so in the section that needed it.
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Protocol

import pandas as pd


class TableReader(Protocol):
    def table(self, name: str) -> pd.DataFrame | None:
        """The table's rows, or None when the table does not exist."""


def _quote(identifier: str, quote: str) -> str:
    return quote + identifier.replace(quote, quote * 2) + quote


# The table that says where a build's outputs are: a project may give the outputs their own schema (dbt's
# `+schema`, README "A tidy warehouse"), so readers look for it instead of assuming the target schema.
OUTPUTS_MARKER = "hte_segment_lifts"


class DbApiReader:
    """Reads tables of one schema through a DB-API 2.0 connection (psycopg, snowflake-connector, duckdb, ...).

    Existence is looked up in information_schema.tables, which every dbt adapter's warehouse provides; the
    schema is matched case-insensitively because Snowflake upper-cases unquoted names and Postgres lower-cases
    them. `quote` is the identifier quote of the dialect (a backtick for BigQuery and Spark).
    """

    def __init__(self, connection, schema: str | None = None, quote: str = '"', default_schema: str = "main"):
        """`schema` None: the one schema that holds hte_segment_lifts (`default_schema` when none does, so that
        the report can say nothing was built); a ValueError when several do."""
        self.connection = connection
        self.quote = quote
        self.schema = schema if schema is not None else self._output_schema(default_schema)
        self._names = self._table_names()

    def _output_schema(self, default_schema: str) -> str:
        _, rows = self._rows(
            "select distinct table_schema from information_schema.tables "
            f"where lower(table_name) = '{OUTPUTS_MARKER}' order by table_schema"
        )
        schemas = [str(r[0]) for r in rows]
        if len(schemas) > 1:
            raise ValueError(
                f"dbt_hte: {OUTPUTS_MARKER} is in {len(schemas)} schemas ({', '.join(schemas)}); say which build to "
                "read with --schema."
            )
        return schemas[0] if schemas else default_schema

    def _rows(self, sql: str) -> tuple[list[str], list[tuple]]:
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            columns = [d[0] for d in cursor.description]
            return columns, cursor.fetchall()
        finally:
            close = getattr(cursor, "close", None)
            if close is not None and cursor is not self.connection:
                close()

    def _table_names(self) -> dict[str, str]:
        schema_literal = "'" + self.schema.lower().replace("'", "''") + "'"
        _, rows = self._rows(
            f"select table_name from information_schema.tables where lower(table_schema) = {schema_literal}"
        )
        return {str(r[0]).lower(): str(r[0]) for r in rows}

    def table(self, name: str) -> pd.DataFrame | None:
        actual = self._names.get(name.lower())
        if actual is None:
            return None
        columns, rows = self._rows(f"select * from {_quote(self.schema, self.quote)}.{_quote(actual, self.quote)}")
        frame = pd.DataFrame.from_records(rows, columns=[c.lower() for c in columns])
        return _numeric_objects(frame)


def _numeric_objects(frame: pd.DataFrame) -> pd.DataFrame:
    # Drivers return Decimal for numeric columns (Postgres, Snowflake); the figures need floats.
    for column in frame.columns:
        values = frame[column].dropna()
        if (
            frame[column].dtype == object
            and len(values)
            and all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values)
        ):
            frame[column] = pd.to_numeric(frame[column].astype(float))
    return frame


class DuckDBReader(DbApiReader):
    """Reads a DuckDB database file read-only (so a running `dbt build` holding the write lock is not disturbed
    beyond DuckDB's own locking), fetching typed columns directly."""

    def __init__(self, path: str | Path, schema: str | None = None):
        import duckdb

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"dbt_hte report: the DuckDB file {path} does not exist. Run `dbt build` first, or pass the path "
                "your profile writes to (DBT_HTE_DUCKDB_PATH, default target/dbt_hte.duckdb)."
            )
        super().__init__(duckdb.connect(str(path), read_only=True), schema)

    def table(self, name: str) -> pd.DataFrame | None:
        actual = self._names.get(name.lower())
        if actual is None:
            return None
        return self.connection.execute(
            f"select * from {_quote(self.schema, self.quote)}.{_quote(actual, self.quote)}"
        ).df()

    def close(self) -> None:
        self.connection.close()
