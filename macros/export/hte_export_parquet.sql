{#- Parquet export of dbt_hte's output tables for BI tools (DuckDB).

    Each table becomes <directory>/<table>.parquet. DuckDB's COPY with USE_TMP_FILE writes tmp_<table>.parquet
    in the same folder and then rename()s it over the previous file: on one file system a rename is atomic, so a
    BI tool reading while the next run writes sees the old file or the new one, never half of one (a reader
    holding the old file open keeps reading the old file).

    Usable three ways (the macro runs its statements itself and renders to nothing, which dbt's hooks skip):
      dbt run-operation hte_export_parquet --args '{directory: exports}'
      on-run-end: "{{ dbt_hte.hte_export_parquet('exports') }}"                  (every output, after each run)
      +post-hook: "{{ dbt_hte.hte_export_parquet('exports', [this.name]) }}"     (one model, right after it builds)
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

{% macro hte_export_output_nodes() %}
  {#- dbt_hte's output tables: its models named hte_* that are materialized as tables (marts, Python outputs,
      hte_cell_stats), in a stable order. Staging views and int_* tables are internals, not outputs. -#}
  {%- set nodes = [] -%}
  {%- for node in graph.nodes.values() | sort(attribute='name') -%}
    {%- if node.resource_type == 'model' and node.package_name == 'dbt_hte' and node.name.startswith('hte_')
          and node.config.materialized in ['table', 'incremental'] -%}
      {%- do nodes.append(node) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(nodes) }}
{% endmacro %}

{% macro duckdb__hte_export_parquet(directory, tables) %}
  {%- if not execute -%}{{ return('') }}{%- endif -%}
  {%- set directory = directory if directory is not none else var('hte_export_directory', none) -%}
  {%- if directory is none or (directory | string | trim) == '' -%}
    {{ exceptions.raise_compiler_error(
        "dbt_hte: hte_export_parquet needs the folder to write to. Pass it, e.g. dbt run-operation "
        ~ "hte_export_parquet --args '{directory: exports}', or set var hte_export_directory.") }}
  {%- endif -%}
  {%- set directory = (directory | string).rstrip('/') -%}
  {%- set outputs = hte_export_output_nodes() -%}
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
  {%- set exported = [] -%}
  {%- for name in names -%}
    {%- set node = by_name[name] -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if relation is none -%}
      {{ log("dbt_hte: " ~ name ~ " is not built (yet), so it was not exported.", info=true) }}
    {%- else -%}
      {%- set path = directory ~ '/' ~ name ~ '.parquet' -%}
      {%- call statement('hte_export_' ~ name, fetch_result=false) -%}
        copy (select * from {{ relation }}) to '{{ path | replace("'", "''") }}' (format parquet, use_tmp_file true)
      {%- endcall -%}
      {%- do exported.append(name) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ log("dbt_hte: exported " ~ (exported | length) ~ " table(s) as Parquet to " ~ directory ~ ": "
         ~ (exported | join(', ')), info=true) }}
  {{ return('') }}
{% endmacro %}
