{#- True when x is a finite number; false (never null) for null, NaN and +-infinity.
    x - x is 0 for every finite x and NaN for NaN and +-infinity; NaN = 0 is false on every engine we target
    (even where NaN = NaN is true: PostgreSQL, DuckDB, Spark, Snowflake), and null = 0 is null, hence coalesce. -#}
{% macro hte_is_finite(x) %}{{ return(adapter.dispatch('hte_is_finite', 'dbt_hte')(x)) }}{% endmacro %}

{% macro default__hte_is_finite(x) -%}
coalesce(({{ x }}) - ({{ x }}) = 0, false)
{%- endmacro %}
