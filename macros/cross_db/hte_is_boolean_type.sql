{#- Whether a column type, as the adapter reports it, is a boolean on any adapter dbt_hte supports. -#}
{% macro hte_is_boolean_type(data_type) %}
  {{ return((data_type | string | lower) in ['boolean', 'bool']) }}
{% endmacro %}
