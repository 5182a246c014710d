{#- on-run-end (the package's dbt_project.yml): one row per dbt_hte model of this `dbt build` or `dbt run` in
    table dbt_hte_build_log beside the outputs: invocation_id, run_started_at, model, status (success, error,
    skipped) and dbt's message.

    Why: when a model fails, dbt skips everything downstream and those tables keep the previous run's rows, beside
    tables this run rebuilt. The log is how readers tell: the report, the summary and the Parquet export read the
    latest invocation's rows (macro hte_stale_outputs, hte_engine.report.freshness) and say at the top which
    outputs are older than the rest, and from when.

    DuckDB only for now (where the report, summary and export read); on other adapters it writes nothing. Not
    named hte_*: it is the package's log, not an output model, so `hte_*` globs of outputs never match it. -#}
{% macro hte_record_build(results) %}
  {%- if not execute or target.type != 'duckdb' or flags.WHICH not in ('build', 'run') -%}{{ return('') }}{%- endif -%}
  {%- set models = [] -%}
  {%- for result in results if result.node.resource_type == 'model' and result.node.package_name == 'dbt_hte' -%}
    {%- do models.append(result) -%}
  {%- endfor -%}
  {%- if models | length == 0 -%}{{ return('') }}{%- endif -%}
  {#- beside the outputs (hte_segment_lifts' schema), also when a project puts the internals in another schema -#}
  {%- set home = dbt_hte.hte_outputs_home() or models[0].node -%}
  {%- set log = dbt_hte.hte_build_log_relation(home.database, home.schema) -%}
  {%- set started = run_started_at.strftime('%Y-%m-%d %H:%M:%S') -%}
  {%- set rows = [] -%}
  {%- for result in models -%}
    {%- set message = (result.message or '') | string | replace("'", "''") -%}
    {%- do rows.append("('" ~ invocation_id ~ "', cast('" ~ started ~ "' as " ~ dbt.type_timestamp() ~ "), '"
        ~ result.node.name ~ "', '" ~ (result.status | string) ~ "', '" ~ message[:500] ~ "')") -%}
  {%- endfor -%}
  {%- do run_query("create table if not exists " ~ log ~ " (invocation_id " ~ dbt.type_string()
      ~ ", run_started_at " ~ dbt.type_timestamp() ~ ", model " ~ dbt.type_string() ~ ", status "
      ~ dbt.type_string() ~ ", message " ~ dbt.type_string() ~ ")") -%}
  {%- do run_query("insert into " ~ log ~ " values " ~ rows | join(", ")) -%}
  {{ return('') }}
{% endmacro %}
