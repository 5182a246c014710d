{#- Equality that holds for two nulls too (a join on keys that may be null), written out because `is not distinct
    from` is not in Spark SQL and `<=>` is only there. -#}
{% macro hte_null_safe_equal(left, right) -%}
    ({{ left }} = {{ right }} or ({{ left }} is null and {{ right }} is null))
{%- endmacro %}
