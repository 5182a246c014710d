{#- A warning in dbt's log when the latest dbt run left some dbt_hte outputs from an earlier run (a model failed
    and dbt skipped what depends on it): the SQL twin of hte_engine.report.freshness, for readers that run in dbt
    (the Parquet export). Reads dbt_hte_build_log (hte_record_build) in the given schema; nothing when absent. -#}
{% macro hte_warn_stale_outputs(database, schema) %}
  {%- if not execute -%}{{ return(none) }}{%- endif -%}
  {%- set log = adapter.get_relation(database=database, schema=schema, identifier='dbt_hte_build_log') -%}
  {%- if log is none -%}{{ return(none) }}{%- endif -%}
  {%- set rows = run_query(
      "select model, status from " ~ log ~ " where invocation_id = (select invocation_id from " ~ log
      ~ " order by run_started_at desc limit 1) and status <> 'success' order by model") -%}
  {%- if rows | length == 0 -%}{{ return(none) }}{%- endif -%}
  {%- set listed = [] -%}
  {%- for row in rows -%}{%- do listed.append(row[0] ~ " (" ~ row[1] ~ ")") -%}{%- endfor -%}
  {%- set message = "dbt_hte: outputs from different runs: the latest dbt run did not rebuild "
      ~ (listed | join(', ')) ~ "; those tables hold an earlier run's rows (or none), the others this run's." -%}
  {%- do exceptions.warn(message) -%}
  {{ return(message) }}
{% endmacro %}
