{#- The log's relation in the outputs' schema (hte_record_build writes it, hte_stale_outputs reads it). -#}
{% macro hte_build_log_relation(database, schema) %}
  {{ return(api.Relation.create(database=database, schema=schema, identifier='dbt_hte_build_log')) }}
{% endmacro %}
