{#- exp(x) that never raises: PostgreSQL raises "value out of range: underflow" for exp(-746) instead of returning
    0. Clamping at -700 changes the result by less than exp(-700) ~ 1e-304, far below any tolerance we test.
    A case expression, not greatest(): greatest() skips nulls on PostgreSQL and DuckDB, so greatest(null, -700)
    would turn a null into exp(-700). -#}
{% macro hte_safe_exp(x) %}{{ return(adapter.dispatch('hte_safe_exp', 'dbt_hte')(x)) }}{% endmacro %}

{% macro default__hte_safe_exp(x) -%}
exp(case when ({{ x }}) < -700 then -700 else ({{ x }}) end)
{%- endmacro %}


{#- True when x is a finite number; false (never null) for null, NaN and +-infinity.
    x - x is 0 for every finite x and NaN for NaN and +-infinity; NaN = 0 is false on every engine we target
    (even where NaN = NaN is true: PostgreSQL, DuckDB, Spark, Snowflake), and null = 0 is null, hence coalesce. -#}
{% macro hte_is_finite(x) %}{{ return(adapter.dispatch('hte_is_finite', 'dbt_hte')(x)) }}{% endmacro %}

{% macro default__hte_is_finite(x) -%}
coalesce(({{ x }}) - ({{ x }}) = 0, false)
{%- endmacro %}
