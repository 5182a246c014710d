{#- A join condition on shared key columns: 'l.k1 = r.k1 and l.k2 = r.k2', for `columns` of aliases `left` and
    `right` (keys that are never null; hte_null_safe_equal is the one for keys that may be). -#}
{% macro hte_same_keys(left, right, columns) -%}
{%- for column in columns %}{{ left }}.{{ column }} = {{ right }}.{{ column }}{{ ' and ' if not loop.last }}{% endfor -%}
{%- endmacro %}
