{#- Parquet export of dbt_hte's output tables for BI tools (DuckDB).

    Each table becomes <directory>/<table>.parquet (every output is named hte_*), and <directory>/hte_bi.duckdb is a
    DuckDB database holding only views over those files, for BI tools that want a database to connect to rather than
    the warehouse file, which DuckDB locks while dbt writes it. A relative directory is relative to the dbt project
    folder; the folder is created when missing (DuckDB SQL has no mkdir: a COPY partitioned into a folder creates
    it, and one with no rows writes nothing into it).

    Atomic files: DuckDB's COPY ... (USE_TMP_FILE) writes tmp_<table>.parquet in the same folder and then rename()s
    it over <table>.parquet; on one file system a rename is atomic, so a reader of a published name sees the
    previous file or the new one, never half of one (a reader holding the old file open keeps reading it). The
    temporary is named tmp_hte_*, so the glob of the published files, hte_*.parquet, never matches it; a bare
    *.parquet does while a COPY runs. (A temporary outside the folder would need a rename across folders:
    DuckDB's SQL cannot rename, and dbt refuses to run Python from a hook or operation.)

    The BI database is written only when it is missing (delete it to rebuild the list of views): its views read the
    published files by absolute path at query time, so every later export reaches a BI tool through the same file,
    and the build never opens it again, so a tool may keep it open across runs without dbt ever waiting on its lock.

    Counts are exported as integers: DuckDB sums integers into HUGEINT, which Parquet cannot hold (DuckDB writes it
    as DOUBLE), so HUGEINT columns are cast to BIGINT on the way out (a value beyond BIGINT fails loudly).

    Usable three ways (the macro runs its statements itself and renders to nothing, which dbt's hooks skip):
      dbt run-operation hte_export_parquet --args '{directory: exports}'
      on-run-end: "{{ dbt_hte.hte_export_parquet('exports') }}"                  (every output, after each run)
      +post-hook: "{{ dbt_hte.hte_export_parquet('exports', [this.name]) }}"     (one model, right after it builds)
    Calls between this package's macros are qualified (dbt_hte.x): in a hook of the user's project an unqualified
    name resolves in the user's project, where these macros are not.
-#}

{% macro hte_export_parquet(directory=none, tables=none) %}
  {{ return(adapter.dispatch('hte_export_parquet', 'dbt_hte')(directory, tables)) }}
{% endmacro %}

{% macro default__hte_export_parquet(directory, tables) %}
  {{ exceptions.raise_compiler_error(
      "dbt_hte: hte_export_parquet writes Parquet with DuckDB's COPY and does not run on adapter '" ~ target.type
      ~ "'. Use the warehouse's own unload instead (Snowflake COPY INTO a stage, BigQuery EXPORT DATA, "
      ~ "Databricks/Spark write.parquet), or point your BI tool at the tables directly.") }}
{% endmacro %}

{% macro duckdb__hte_export_parquet(directory, tables) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set directory = directory if directory is not none else var('hte_export_directory', none) -%}
  {%- if directory is none or (directory | string | trim) == '' -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_export_parquet needs the folder to write to. Pass it, e.g. dbt run-operation "
        ~ "hte_export_parquet --args '{directory: exports}', or set var hte_export_directory.") }}
  {%- endif -%}
  {%- set directory = dbt_hte.hte_export_absolute_path(directory | string | trim) -%}
  {%- set outputs = dbt_hte.hte_export_output_nodes() -%}
  {%- set by_name = {} -%}
  {%- for node in outputs -%}{%- do by_name.update({node.name: node}) -%}{%- endfor -%}
  {%- if tables is string -%}{%- set tables = [tables] -%}{%- endif -%}
  {%- set names = tables if tables is not none else by_name.keys() | list -%}
  {%- set unknown = names | reject('in', by_name) | list -%}
  {%- if unknown -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_export_parquet cannot export " ~ (unknown | join(', ')) ~ ": not a dbt_hte output table. "
        ~ "Choose among " ~ (by_name.keys() | list | join(', ')) ~ ", or leave tables out to export them all.") }}
  {%- endif -%}
  {%- do dbt_hte.hte_export_make_directory(directory) -%}
  {%- set home = dbt_hte.hte_outputs_home() -%}
  {%- if home is not none -%}
    {%- do dbt_hte.hte_warn_stale_outputs(home.database, home.schema) -%}
  {%- endif -%}
  {%- set exported = [] -%}
  {%- for name in names -%}
    {%- set node = by_name[name] -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if relation is none -%}
      {{ log("dbt_hte: " ~ name ~ " is not built (yet), so it was not exported.", info=true) }}
    {%- else -%}
      {%- set columns = [] -%}
      {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- set quoted = adapter.quote(column.name) -%}
        {%- if column.dtype | upper in ['HUGEINT', 'UHUGEINT'] -%}
          {%- do columns.append('cast(' ~ quoted ~ ' as bigint) as ' ~ quoted) -%}
        {%- else -%}
          {%- do columns.append(quoted) -%}
        {%- endif -%}
      {%- endfor -%}
      {%- call statement('hte_export_' ~ name, fetch_result=false) -%}
        copy (select {{ columns | join(', ') }} from {{ relation }})
        to {{ dbt_hte.hte_string_literal(directory ~ '/' ~ name ~ '.parquet') }} (format parquet, use_tmp_file true)
      {%- endcall -%}
      {%- do exported.append(name) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set bi_database = dbt_hte.hte_export_bi_database(directory, by_name.keys() | list) -%}
  {{ log("dbt_hte: exported " ~ (exported | length) ~ " table(s) as Parquet to " ~ directory ~ ": "
         ~ (exported | join(', ')) ~ (("; BI database of views: " ~ bi_database) if bi_database else ""), info=true) }}
  {{ return('') }}
{% endmacro %}
