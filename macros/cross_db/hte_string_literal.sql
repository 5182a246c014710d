{#- Literal SQL for a string value, with quotes escaped (values from vars never reach SQL unescaped). -#}
{% macro hte_string_literal(value) %}
  {{- return("'" ~ (value | string | replace("'", "''")) ~ "'") -}}
{% endmacro %}
