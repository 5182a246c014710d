{% macro hte_features_have_experiment_id() %}
  {#- ref() before the execute check: dbt must see the dependency at parse time -#}
  {%- set relation = hte_input_relation('hte_unit_features') -%}
  {%- if not execute -%}{{ return(false) }}{%- endif -%}
  {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower == 'experiment_id' -%}
    {{- return(true) -}}
  {%- endfor -%}
  {{- return(false) -}}
{% endmacro %}
