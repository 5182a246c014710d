"""A local SparkSession for the tests that run the engine on Spark DataFrames (pip's pyspark, local mode): an
in-memory catalog in a throwaway warehouse folder, UTC, two shuffle partitions and no UI, as small as Spark goes."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def local_spark(name: str, cores: int, **config: str) -> Iterator[tuple[object, Path]]:
    """(session, warehouse folder) of a local SparkSession on `cores` cores with `config` added; stopped, and its
    folder removed, on exit."""
    from pyspark.sql import SparkSession

    # The executors' Python must be this one (the engine and its dependencies), not whatever python3 is on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse = tempfile.mkdtemp(prefix=f"dbt_hte_spark_{name}_")
    builder = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName(f"dbt_hte_{name}_test")
        .config("spark.sql.catalogImplementation", "in-memory")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
    )
    for key, value in config.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    try:
        yield session, Path(warehouse)
    finally:
        session.stop()
        shutil.rmtree(warehouse, ignore_errors=True)
