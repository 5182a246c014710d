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
  {%- if outputs | length > 0 -%}
    {%- do dbt_hte.hte_warn_stale_outputs(outputs[0].database, outputs[0].schema) -%}
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

{#- A relative export folder is relative to the dbt project folder (absolute paths also go into the BI database's
    views, which a BI tool reads from its own working directory). -#}
{% macro hte_export_absolute_path(directory) %}
  {%- if directory.startswith('/') or modules.re.match('^[A-Za-z]:[\\\\/]', directory) -%}
    {%- set path = directory -%}
  {%- else -%}
    {%- set base = invocation_args_dict.get('project_dir') or '' -%}
    {%- if not base.startswith('/') -%}
      {%- set base = env_var('PWD', '.') ~ ('/' ~ base if base else '') -%}
    {%- endif -%}
    {%- set path = base.rstrip('/') ~ '/' ~ directory -%}
  {%- endif -%}
  {%- set parts = [] -%}
  {%- for part in path.split('/') -%}
    {%- if part == '..' and parts and parts[-1] not in ['', '..'] -%}{%- do parts.pop() -%}
    {%- elif part not in ['.', ''] or loop.first -%}{%- do parts.append(part) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(parts | join('/') if parts != [''] else '/') }}
{% endmacro %}

{#- Create the folder and its missing parents. A COPY partitioned by a column writes into a folder it creates;
    with no rows it writes no file, and overwrite_or_ignore leaves an existing folder and its files as they are. -#}
{% macro hte_export_make_directory(directory) %}
  {%- set parts = directory.split('/') -%}
  {%- for depth in range(2, parts | length + 1) -%}
    {%- call statement('hte_export_mkdir', fetch_result=false) -%}
      copy (select 1 as hte_level, 1 as hte_unused where false)
      to {{ dbt_hte.hte_string_literal(parts[:depth] | join('/')) }}
      (format parquet, partition_by (hte_level), overwrite_or_ignore true)
    {%- endcall -%}
  {%- endfor -%}
{% endmacro %}

{#- Write <directory>/hte_bi.duckdb (views over the published files) when it does not exist; returns its path, or
    '' when it already existed. It is never opened once written (see the top of this file). -#}
{% macro hte_export_bi_database(directory, outputs) %}
  {%- set path = directory ~ '/hte_bi.duckdb' -%}
  {%- set existing = run_query("select count(*) from glob(" ~ dbt_hte.hte_string_literal(path) ~ ")") -%}
  {%- if existing.columns[0].values()[0] > 0 -%}{{ return('') }}{%- endif -%}
  {%- set published = run_query("select file from glob(" ~ dbt_hte.hte_string_literal(directory ~ '/hte_*.parquet')
                                ~ ")").columns[0].values() -%}
  {%- set views = [] -%}
  {%- for name in outputs | sort if (directory ~ '/' ~ name ~ '.parquet') in published -%}
    {%- do views.append(name) -%}
  {%- endfor -%}
  {#- storage version 1.0 keeps the file readable by the older DuckDB builds BI tools embed -#}
  {%- call statement('hte_export_bi_database', fetch_result=false) -%}
    attach {{ dbt_hte.hte_string_literal(path) }} as hte_bi_export (storage_version 'v1.0.0');
    {%- for name in views %}
    create view hte_bi_export.main.{{ adapter.quote(name) }} as
      select * from read_parquet({{ dbt_hte.hte_string_literal(directory ~ '/' ~ name ~ '.parquet') }});
    {%- endfor %}
    detach hte_bi_export
  {%- endcall -%}
  {#- the views are catalog writes: commit them (dbt opened a transaction for the statement) -#}
  {%- do adapter.commit() -%}
  {{ return(path) }}
{% endmacro %}
