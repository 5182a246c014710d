{#- A number from a var as a SQL double literal (a bare 0.05 is a fixed-point decimal on DuckDB and Spark). -#}
{% macro hte_double_literal(value) %}
  {{- return("cast(" ~ value ~ " as " ~ hte_double() ~ ")") -}}
{% endmacro %}
