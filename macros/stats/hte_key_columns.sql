{#- A select or group-by list of key columns, each qualified with `alias` when one is given: 'a.k1, a.k2'. The
    macros that carry a caller's key columns through nested subqueries (hte_chi2_pvalues, hte_cochran_q) list
    them with it. -#}
{% macro hte_key_columns(columns, alias=none) -%}
{%- set prefix = alias ~ '.' if alias else '' -%}
{%- for column in columns %}{{ prefix ~ column }}{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}
