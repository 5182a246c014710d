{% macro hte_validation_rows(check_sql) %}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {{ return(run_query("select * from (" ~ check_sql ~ ") hte_check order by 1, 2").rows) }}
{% endmacro %}
