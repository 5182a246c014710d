"""Turn whatever `dbt.ref()` returns into pandas, moving as few rows as the question needs.

dbt-duckdb hands Python models a DuckDB relation, dbt-databricks a Spark DataFrame, dbt-snowflake a Snowpark
DataFrame. Sampling is pushed down to the warehouse where the relation allows it, and keeps whole clusters
(or whole units), because a cluster-robust error computed on a sample that splits clusters is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from hte_engine.progress import Log, progress

# Hash buckets for the deterministic sample: a fraction is kept to a resolution of one in a million.
BUCKETS = 1_000_000


def to_pandas(relation, compact: bool = False) -> pd.DataFrame:
    """A pandas DataFrame from a pandas, DuckDB, Spark or Snowpark relation.

    ``compact``, for unit-level reads of millions of rows: DuckDB's rows come through Arrow. DuckDB's own pandas
    conversion makes a Python object of every text value before pandas stores the column as Arrow text again; on a
    6 M-unit comparison (eight text columns) that read peaked at 7.4 GiB against 3.6 GiB through Arrow (the
    process, DuckDB's 3 GB included). Decimals arrive as float64 and dates as timestamps, as DuckDB's conversion
    gives them."""
    if isinstance(relation, pd.DataFrame):
        return relation
    if compact and hasattr(relation, "arrow") and hasattr(relation, "df"):  # DuckDB
        return _arrow_to_pandas(relation.arrow())
    if hasattr(relation, "df") and callable(relation.df):  # DuckDB
        return relation.df()
    if hasattr(relation, "toPandas"):  # Spark
        return relation.toPandas()
    if hasattr(relation, "to_pandas"):  # Snowpark
        return relation.to_pandas()
    raise TypeError(
        f"dbt_hte cannot read a relation of type {type(relation).__name__} into pandas; supported are pandas, "
        "DuckDB, Spark and Snowpark DataFrames."
    )


def _arrow_to_pandas(result) -> pd.DataFrame:
    table = result.read_all() if hasattr(result, "read_all") else result  # DuckDB 2.0 returns a batch reader
    columns = []
    for column in table.columns:
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        elif pa.types.is_date(column.type):
            column = column.cast(pa.timestamp("us"))
        columns.append(column)
    return pa.table(columns, names=table.column_names).to_pandas()


def row_count(relation) -> int:
    if isinstance(relation, pd.DataFrame):
        return len(relation)
    if hasattr(relation, "aggregate") and hasattr(relation, "df"):  # DuckDB: count without fetching rows
        return int(relation.aggregate("count(*) as n").df()["n"].iloc[0])
    return int(relation.count())  # Spark and Snowpark return an int


def sampling_key_sql(seed: int) -> str:
    return f"coalesce(cast(cluster_id as varchar), cast(unit_id as varchar)) || ':{int(seed)}'"


def select_columns(relation, columns: list[str]):
    """The relation with only `columns`, projected in the warehouse where possible."""
    if isinstance(relation, pd.DataFrame):
        return relation[columns]
    if hasattr(relation, "project") and hasattr(relation, "df"):  # DuckDB
        return relation.project(", ".join(_quoted(c) for c in columns))
    return relation.select(*columns)  # Spark and Snowpark


def numeric_features(relation, columns: list[str]) -> pd.DataFrame | None:
    """experiment_id, unit_id and the numeric ones of `columns` (var hte_feature_columns) of stg_hte_unit_features.

    Column types are read from an empty result first, so no text feature column is ever moved into Python.
    None when no configured feature column is numeric.
    """
    present = [c for c in columns if c in list(relation.columns)]
    if not present:
        return None
    projected = select_columns(relation, present)
    empty = projected.head(0) if isinstance(projected, pd.DataFrame) else to_pandas(projected.limit(0))
    numeric = [c for c in present if pd.api.types.is_numeric_dtype(empty[c])]
    if not numeric:
        return None
    return to_pandas(select_columns(relation, ["experiment_id", "unit_id", *numeric]))


def only_experiments(relation, experiment_ids: list[str]):
    """The relation restricted to some experiments, filtered in the warehouse where possible."""
    if isinstance(relation, pd.DataFrame):
        return relation[relation["experiment_id"].isin(experiment_ids)]
    quoted = ", ".join("'" + str(e).replace("'", "''") + "'" for e in experiment_ids)
    return relation.filter(f"experiment_id in ({quoted})")


def experiments_with_clusters(relation) -> list[str]:
    """Experiments whose assignments carry a cluster_id: their errors must be cluster-robust."""
    if isinstance(relation, pd.DataFrame):
        return sorted(relation.loc[relation["cluster_id"].notna(), "experiment_id"].unique())
    found = to_pandas(relation.filter("cluster_id is not null").select("experiment_id").distinct())
    return sorted(found["experiment_id"].astype(str))


def bounded_units(relation, max_rows: int, seed: int) -> tuple[pd.DataFrame, bool]:
    """All unit rows if there are at most `max_rows`, else a deterministic hash sample of whole clusters.

    Returns the frame and whether it is a sample. Hashing (cluster, seed) rather than drawing at random makes
    the same inputs give the same sample on every build, and keeps every metric row of a unit together.
    """
    total = row_count(relation)
    if total <= max_rows:
        return to_pandas(relation), False
    return to_pandas(hash_sampled(relation, max_rows / total, seed)), True


def hash_sampled(relation, fraction: float, seed: int):
    """The rows of ``relation`` (columns unit_id and cluster_id) whose whole cluster, or unit when it has no
    cluster_id, hashes with ``seed`` into the kept ``fraction``, as a relation of the same kind where the warehouse
    can filter it (DuckDB, Spark), so only the sample's rows are ever read; else as pandas. The same inputs give
    the same sample on every build, whatever the row order."""
    kept = int(BUCKETS * min(max(fraction, 0.0), 1.0))
    if hasattr(relation, "filter") and hasattr(relation, "df"):  # DuckDB
        return relation.filter(f"hash({sampling_key_sql(seed)}) % {BUCKETS} < {kept}")
    if hasattr(relation, "toPandas"):  # Spark SQL expression syntax
        key = f"concat(coalesce(cast(cluster_id as string), cast(unit_id as string)), ':{int(seed)}')"
        return relation.filter(f"pmod(hash({key}), {BUCKETS}) < {kept}")
    frame = to_pandas(relation)
    key = (
        frame["cluster_id"].astype(object).where(frame["cluster_id"].notna(), frame["unit_id"]).astype(str)
        + f":{int(seed)}"
    )
    buckets = pd.util.hash_pandas_object(key, index=False).to_numpy() % BUCKETS
    return frame[buckets < kept].reset_index(drop=True)


def _sql_literal(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _condition(column: str, value) -> str:
    quoted = _quoted(column)
    if isinstance(value, (list, tuple, set, frozenset)):
        values = sorted(value, key=str)
        return f"{quoted} in ({', '.join(_sql_literal(v) for v in values)})" if values else "1 = 0"
    return f"{quoted} is null" if value is None else f"{quoted} = {_sql_literal(value)}"


def _spark_condition(column: str, value) -> str:
    quoted = "`" + column.replace("`", "``") + "`"
    if isinstance(value, (list, tuple, set, frozenset)):
        values = sorted(value, key=str)
        return f"{quoted} in ({', '.join(_sql_literal(v) for v in values)})" if values else "1 = 0"
    return f"{quoted} is null" if value is None else f"{quoted} = {_sql_literal(value)}"


def filtered(relation, **equal):
    """``relation`` restricted to the rows whose columns equal the given values (a list means "any of"), as a
    relation of the same kind: the filter runs in the warehouse when the rows are read."""
    if not equal:
        return relation
    if isinstance(relation, pd.DataFrame):
        mask = np.ones(len(relation), dtype=bool)
        for column, value in equal.items():
            values = relation[column]
            if isinstance(value, (list, tuple, set, frozenset)):
                mask &= values.isin(list(value)).to_numpy(dtype=bool, na_value=False)
            elif value is None:
                mask &= values.isna().to_numpy()
            else:
                mask &= (values == value).to_numpy(dtype=bool, na_value=False)
        return relation.loc[mask].reset_index(drop=True)
    if hasattr(relation, "df") and hasattr(relation, "filter"):  # DuckDB
        return relation.filter(" and ".join(_condition(c, v) for c, v in equal.items()))
    return relation.filter(" and ".join(_spark_condition(c, v) for c, v in equal.items()))  # Spark, Snowpark


def fetch(relation, columns: list[str] | None = None, compact: bool = False, **equal) -> pd.DataFrame:
    """The rows of ``relation`` whose columns equal the given values, with only ``columns``, as pandas. The
    filter and the projection run in the warehouse, so Python receives only the rows and columns one comparison
    (or experiment) needs: the way every model keeps its memory independent of how many comparisons there are.

        fetch(scores, ["unit_id", "cate"], experiment_id="exp_a", metric="revenue", arm="treatment")

    ``compact``: read through Arrow (``to_pandas``), for unit-level rows.
    """
    relation = filtered(relation, **equal)
    if columns is not None:
        relation = select_columns(relation, columns)
    return to_pandas(relation, compact=compact).reset_index(drop=True)


def group_counts(relation, by: list[str], **equal) -> pd.DataFrame:
    """Row counts per combination of ``by`` (column ``n``), counted in the warehouse: what a plan needs to know
    about the unit rows before it reads any of them."""
    if isinstance(relation, pd.DataFrame):
        rows = fetch(relation, by, **equal)
        return rows.groupby(by, dropna=False, sort=True).size().rename("n").reset_index()
    relation = filtered(relation, **equal)
    if hasattr(relation, "aggregate") and hasattr(relation, "df"):  # DuckDB
        keys = ", ".join(_quoted(c) for c in by)
        return relation.aggregate(f"{keys}, count(*) as n", keys).df().sort_values(by, ignore_index=True)
    grouped = relation.groupBy(*by) if hasattr(relation, "groupBy") else relation.group_by(*by)  # Spark, Snowpark
    counted = to_pandas(grouped.count())
    return counted.rename(columns={"count": "n", "COUNT": "n"}).sort_values(by, ignore_index=True)


# pandas dtype of an output column -> Arrow type of the warehouse column
_ARROW_TYPES = {
    "string": pa.string(),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "Int64": pa.int64(),
    "boolean": pa.bool_(),
    "bool": pa.bool_(),
}


def arrow_schema(schema: dict) -> pa.Schema:
    return pa.schema([(name, _ARROW_TYPES[dtype]) for name, dtype in schema.items()])


def _is_duckdb(session) -> bool:
    """Whether ``session`` is a DuckDB connection or cursor. dbt-duckdb hands a Python model its cursor wrapped
    (DuckDBCursorWrapper; RetryableCursor too when the profile sets retries), each holding the DuckDB cursor in
    ``_cursor``: a check of the outer type alone took every dbt model for another engine, so the tables meant to
    stream one comparison at a time were concatenated whole (measured: killed at 23 GiB at 10M units)."""
    for _ in range(4):
        if session is None:
            return False
        if type(session).__module__.split(".")[0] in ("duckdb", "_duckdb"):
            return True
        session = getattr(session, "_cursor", None)
    return False


def stream_table(frames: Iterable[pd.DataFrame], schema: dict, session=None, typed=None):
    """What a Python model returns for a table built one comparison at a time.

    On DuckDB, an Arrow stream: dbt-duckdb writes the table while the model's generator computes the next
    comparison, so the model holds one comparison's rows at a time, never the whole table. Elsewhere (Spark,
    Snowpark, tests without a session) the frames are concatenated into one pandas frame, as before.
    ``typed(frame, schema)`` puts each frame's columns in the schema's order and types.
    """
    typed = typed or conform
    if session is not None and _is_duckdb(session):
        bound_duckdb_memory(session)
        target = arrow_schema(schema)

        def batches():
            for frame in frames:
                if len(frame):
                    # through a Table: a pandas column stored as chunked Arrow (pandas 3 strings after a concat)
                    # cannot become one RecordBatch column directly
                    yield from pa.Table.from_pandas(
                        typed(frame, schema)[list(schema)], schema=target, preserve_index=False
                    ).to_batches()

        return pa.RecordBatchReader.from_batches(target, batches())
    parts = [typed(frame, schema) for frame in frames if len(frame)]
    return typed(pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(schema)), schema)


def conform(frame: pd.DataFrame, schema: dict) -> pd.DataFrame:
    """Columns of ``schema`` first, in its order and types; any extra columns after them. An output with no
    rows, or a column that is null on every row of a build, still lands in the warehouse with the right type."""
    out = frame.copy()
    for column, dtype in schema.items():
        if column not in out:
            out[column] = pd.Series(
                pd.NA if dtype in ("string", "Int64", "boolean") else np.nan, index=out.index, dtype=dtype
            )
        else:
            out[column] = out[column].astype(dtype)
    return out[list(schema) + [c for c in out.columns if c not in schema]].reset_index(drop=True)


def any_rows(relation, **equal) -> bool:
    """Whether ``relation`` has a row whose columns equal the given values (reads one row at most)."""
    relation = filtered(relation, **equal)
    if isinstance(relation, pd.DataFrame):
        return len(relation) > 0
    if hasattr(relation, "df"):  # DuckDB
        return len(relation.limit(1).df()) > 0
    return relation.limit(1).count() > 0


def has_values(relation, column: str) -> bool:
    """Whether any row of ``relation`` has a non-null ``column`` (read one row at most)."""
    if isinstance(relation, pd.DataFrame):
        return bool(column in relation and relation[column].notna().any())
    if column not in list(relation.columns):
        return False
    if hasattr(relation, "df") and hasattr(relation, "filter"):  # DuckDB
        return len(relation.filter(f"{_quoted(column)} is not null").limit(1).df()) > 0
    return relation.filter(f"`{column}` is not null").limit(1).count() > 0


def left_join(left, right, keys: list[str]):
    """``left`` with the columns of ``right`` matched on ``keys`` (a USING join), in the warehouse where the
    relations live, so the rows are joined before any of them reaches Python."""
    if isinstance(left, pd.DataFrame):
        return left.merge(to_pandas(right), on=keys, how="left")
    if hasattr(left, "df") and hasattr(left, "join"):  # DuckDB
        return left.join(right, ", ".join(keys), how="left")
    return left.join(right, on=keys, how="left")  # Spark and Snowpark


class MemoryBudgetExceeded(RuntimeError):
    """A model would hold more rows than its memory budget allows: said before loading, never an OOM kill."""


def physical_memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not a POSIX machine: assume a small one
        return 8 * 1024**3


def memory_budget_bytes(setting=None) -> int:
    """Bytes one Python model may hold: var hte_python_memory_budget_gb, else a quarter of the machine's memory.
    dbt-duckdb runs Python models inside the dbt process, two at a time at the default threads, so a quarter
    each leaves half of the machine to DuckDB, dbt and everything else."""
    if setting not in (None, "", "None", "none"):
        return int(float(setting) * 1024**3)
    return physical_memory_bytes() // 4


# DuckDB's own default memory_limit is 80% of the machine, and dbt-duckdb runs the Python models in the same process,
# each allowed a quarter of the machine (memory_budget_bytes): together 130%. Measured at 10M units on 24 GiB: the
# dbt process was killed at 23 GiB (with stream_table's DuckDB path not taken, see _is_duckdb), and a DuckDB writing
# a large table keeps it in memory up to its limit. So the machine is shared in four: two Python models, DuckDB,
# and dbt with everything else; past its quarter, DuckDB spills to its temp directory.
DUCKDB_MEMORY_SHARE = 0.25
_DUCKDB_DEFAULT_SHARE = 0.8


def _duckdb_bytes(text: str) -> float | None:
    units = {
        "b": 1,
        "kb": 1e3,
        "mb": 1e6,
        "gb": 1e9,
        "tb": 1e12,
        "kib": 2**10,
        "mib": 2**20,
        "gib": 2**30,
        "tib": 2**40,
    }
    parts = str(text).strip().lower().replace(" ", "")
    number = parts.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = parts[len(number) :] or "b"
    try:
        return float(number) * units[unit]
    except (ValueError, KeyError):
        return None


def bound_duckdb_memory(session, log: Log | None = None) -> None:
    """Lower DuckDB's memory_limit to DUCKDB_MEMORY_SHARE of the machine when it is still DuckDB's default (80%):
    a limit the profile set (dbt-duckdb `settings: {memory_limit: ...}`) below 75% of the machine is left alone."""
    physical = physical_memory_bytes()
    current = _duckdb_bytes(session.execute("select current_setting('memory_limit')").fetchall()[0][0])
    if current is None or current < 0.75 * physical:
        return
    bounded = DUCKDB_MEMORY_SHARE * physical
    # fetched: DuckDB 2.0 keeps an unfetched result open, and the model's next read on this cursor would fail
    session.execute(f"set memory_limit = '{bounded / 2**30:.1f}GiB'").fetchall()
    (log or progress)(
        f"DuckDB memory_limit {current / 2**30:.1f} GiB (its default, {_DUCKDB_DEFAULT_SHARE:.0%} of "
        f"the machine) lowered to {bounded / 2**30:.1f} GiB, so that DuckDB and two Python models fit "
        "in memory together; set memory_limit in the profile's settings to choose another."
    )


def check_memory(model: str, what: str, rows: int, bytes_per_row: float, budget: int, advice: str) -> None:
    """Refuse, with a sentence naming the model, the comparison, the rows and the var to change, to load rows
    whose estimated footprint exceeds ``budget``."""
    needed = rows * bytes_per_row
    if needed > budget:
        gib = 1024**3
        raise MemoryBudgetExceeded(
            f"dbt_hte {model}: {what} has {rows:,} rows; holding them needs about {needed / gib:.1f} GiB, more than "
            f"this model's memory budget of {budget / gib:.1f} GiB (var hte_python_memory_budget_gb; default a "
            f"quarter of the machine's memory, since dbt runs two Python models at once). {advice}"
        )


def existing_table(session, name) -> object:
    """A table the model itself wrote on an earlier run (``dbt.this`` of an incremental model), as a relation of
    the session's warehouse: DuckDB, Spark and Snowpark sessions all answer ``sql``, so no dialect is written
    here; filter it with ``filtered`` and read it with ``fetch``."""
    return session.sql(f"select * from {name}")
