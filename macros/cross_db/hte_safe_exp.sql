{#- exp(x) that never raises: PostgreSQL raises "value out of range: underflow" for exp(-746) instead of returning
    0. Clamping at -700 changes the result by less than exp(-700) ~ 1e-304, far below any tolerance we test.
    A case expression, not greatest(): greatest() skips nulls on PostgreSQL and DuckDB, so greatest(null, -700)
    would turn a null into exp(-700). -#}
{% macro hte_safe_exp(x) %}{{ return(adapter.dispatch('hte_safe_exp', 'dbt_hte')(x)) }}{% endmacro %}

{% macro default__hte_safe_exp(x) -%}
exp(case when ({{ x }}) < -700 then -700 else ({{ x }}) end)
{%- endmacro %}
