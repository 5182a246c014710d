{#- The statistic, df and p-value columns of a check row that counts rather than tests (hte_checks: a small
    segment, a folded dimension, a column or metric never observed, an experiment skipped): the count as the
    statistic (`count`, null where the row has none), no degrees of freedom and no p-value. -#}
{% macro hte_counted_check(count='null') -%}
cast({{ count }} as {{ hte_double() }}) as statistic,
        cast(null as {{ dbt.type_int() }}) as df,
        cast(null as {{ hte_double() }}) as p_value
{%- endmacro %}
