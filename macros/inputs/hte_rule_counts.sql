{#- The select items of a counting pass (hte_count_problems): `conditions` maps the name of each count to its rule's
    condition on a row, and each count is how many rows meet it. -#}
{% macro hte_rule_counts(conditions) %}
  {%- set counts = [] -%}
  {%- for name, condition in conditions.items() -%}
    {%- do counts.append("sum(case when " ~ condition ~ " then 1 else 0 end) as " ~ name) -%}
  {%- endfor -%}
  {{ return(counts | join(', ')) }}
{% endmacro %}
