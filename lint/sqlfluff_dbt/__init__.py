"""The part of dbt's Jinja context that dbt_hte's models and macros use, for sqlfluff's jinja templater (.sqlfluff).

sqlfluff's own dbt builtins cover ref, source, config, var, return and is_incremental; the rest is here. Models
render as dbt renders them at parse time (`execute` is false): no query runs, and the input validations that need
the warehouse are skipped, exactly as in `dbt parse`. `var` returns the package's defaults from dbt_project.yml,
so the SQL linted is the SQL the default configuration compiles to on DuckDB. The linter never connects to a
warehouse and takes about 30 s on 2 cores (the dbt templater compiles through dbt with a connection: 4 CPU
minutes for models/ alone).
"""

from __future__ import annotations

import datetime as _datetime
import os as _os
import re as _re
from pathlib import Path as _Path
from types import SimpleNamespace as _Namespace

import yaml as _yaml
from jinja2 import pass_context as _pass_context

_PROJECT = _Path(__file__).resolve().parents[2] / "dbt_project.yml"
_VARS = _yaml.safe_load(_PROJECT.read_text())["vars"]["dbt_hte"]

execute = False
target = _Namespace(type="duckdb", schema="main", database="dbt_hte", name="duckdb", threads=2)
flags = _Namespace(WHICH="compile", FULL_REFRESH=False)
# hte_config_run_date asks modules.pytz for utc alone
modules = _Namespace(re=_re, datetime=_datetime, pytz=_Namespace(utc=_datetime.UTC))
run_started_at = _datetime.datetime(2026, 1, 1)
invocation_id = "sqlfluff"
graph = _Namespace(nodes={}, sources={})


def var(name, default=None):
    return _VARS.get(name, default)


def env_var(name, default=""):
    return _os.environ.get(name, default)


def log(*args, **kwargs):
    return ""


class _CompilerError(Exception):
    pass


class _Exceptions:
    @staticmethod
    def raise_compiler_error(message):
        raise _CompilerError(message)

    @staticmethod
    def warn(message):
        return ""


exceptions = _Exceptions()


class _Adapter:
    @_pass_context
    def dispatch(self, context, name, macro_namespace=None):
        """dbt's dispatch on DuckDB: duckdb__name if the package has one, else default__name."""
        for candidate in (f"duckdb__{name}", f"default__{name}"):
            if candidate in context:
                return context[candidate]
        raise _CompilerError(f"adapter.dispatch: no macro {name} for duckdb or default")

    @staticmethod
    def quote(identifier):
        return f'"{identifier}"'

    @staticmethod
    def get_columns_in_relation(relation):
        return []

    @staticmethod
    def get_relation(**kwargs):
        return None


adapter = _Adapter()


class _Relation:
    @staticmethod
    def create(database=None, schema=None, identifier=None, **kwargs):
        return ".".join(f'"{part}"' for part in (database, schema, identifier) if part)


api = _Namespace(Relation=_Relation)


class _Dbt:
    """dbt's cross-database macros, as dbt-duckdb renders them."""

    type_string = staticmethod(lambda: "TEXT")
    type_timestamp = staticmethod(lambda: "timestamp")
    type_int = staticmethod(lambda: "integer")
    type_bigint = staticmethod(lambda: "bigint")
    type_float = staticmethod(lambda: "float")
    type_boolean = staticmethod(lambda: "boolean")
    current_timestamp = staticmethod(lambda: "now()")

    @staticmethod
    def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
        order = f" {order_by_clause}" if order_by_clause else ""
        return f"string_agg({measure}, {delimiter_text}{order})"

    @staticmethod
    def dateadd(datepart, interval, from_date_or_timestamp):
        unit = str(datepart).lower()
        if unit == "quarter":
            return f"({from_date_or_timestamp} + (cast({interval} as bigint) * 3) * interval 1 month)"
        if unit == "week":
            return f"({from_date_or_timestamp} + (cast({interval} as bigint) * 7) * interval 1 day)"
        return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {unit})"

    @staticmethod
    def datediff(first_date, second_date, datepart):
        # dbt-duckdb's text for every part but week (which the package does not use)
        return f"(date_diff('{datepart}', {first_date}::timestamp, {second_date}::timestamp ))"

    @staticmethod
    def date_trunc(datepart, date):
        return f"date_trunc('{datepart}', {date})"

    @staticmethod
    def replace(field, old_chars, new_chars):
        return f"replace({field}, {old_chars}, {new_chars})"


dbt = _Dbt()
