{% macro hte_centered_cross_product(n, sum_a, sum_b, sum_ab) -%}
(case when ({{ n }}) > 0 then ({{ sum_ab }}) - ({{ sum_a }}) * ({{ sum_b }}) / ({{ n }}) end)
{%- endmacro %}
