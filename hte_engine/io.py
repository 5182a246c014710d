"""Turn whatever `dbt.ref()` returns into pandas, moving as few rows as the question needs.

dbt-duckdb hands Python models a DuckDB relation, dbt-databricks a Spark DataFrame, dbt-snowflake a Snowpark
DataFrame. Sampling is pushed down to the warehouse where the relation allows it, and keeps whole clusters
(or whole units), because a cluster-robust error computed on a sample that splits clusters is wrong.
"""

from __future__ import annotations

import pandas as pd

# Hash buckets for the deterministic sample: a fraction is kept to a resolution of one in a million.
BUCKETS = 1_000_000


def to_pandas(relation) -> pd.DataFrame:
    """A pandas DataFrame from a pandas, DuckDB, Spark or Snowpark relation."""
    if isinstance(relation, pd.DataFrame):
        return relation
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
        return relation.project(", ".join('"' + c.replace('"', '""') + '"' for c in columns))
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
    kept = int(BUCKETS * max_rows / total)
    if hasattr(relation, "filter") and hasattr(relation, "df"):  # DuckDB
        return relation.filter(f"hash({sampling_key_sql(seed)}) % {BUCKETS} < {kept}").df(), True
    if hasattr(relation, "toPandas"):  # Spark SQL expression syntax
        key = f"concat(coalesce(cast(cluster_id as string), cast(unit_id as string)), ':{int(seed)}')"
        return relation.filter(f"pmod(hash({key}), {BUCKETS}) < {kept}").toPandas(), True
    frame = to_pandas(relation)
    key = (
        frame["cluster_id"].astype(object).where(frame["cluster_id"].notna(), frame["unit_id"]).astype(str)
        + f":{int(seed)}"
    )
    buckets = pd.util.hash_pandas_object(key, index=False).to_numpy() % BUCKETS
    return frame[buckets < kept].reset_index(drop=True), True
