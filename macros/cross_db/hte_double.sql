{#- The 8-byte IEEE float type. dbt.type_float() is not it: that is a 4-byte float on Spark and DuckDB, where
    p-values near 1e-8 and sums of squares of millions of rows would keep only 7 significant digits. -#}
{% macro hte_double() %}{{ return(adapter.dispatch('hte_double', 'dbt_hte')()) }}{% endmacro %}

{#- ANSI spelling: PostgreSQL, Snowflake, Redshift, Trino accept it. -#}
{% macro default__hte_double() %}double precision{% endmacro %}

{% macro duckdb__hte_double() %}double{% endmacro %}

{#- dbt-databricks dispatches to spark__ as well. -#}
{% macro spark__hte_double() %}double{% endmacro %}

{% macro bigquery__hte_double() %}float64{% endmacro %}

{% macro snowflake__hte_double() %}float{% endmacro %}
