{#- The run date as a typed SQL expression. -#}
{% macro hte_run_date_sql() -%}
cast('{{ hte_config_run_date() }}' as date)
{%- endmacro %}
