{#- The columns of a row of hte_checks, in their order and types, from a relation holding them by name (severity
    aside: an alert carries `severity`, var hte_check_severity). Every model that writes check rows
    (hte_checks, hte_interaction_checks) ends with it, so the union of their rows has one schema on every adapter. -#}
{% macro hte_check_columns(severity) -%}
{%- set text = dbt.type_string() -%}
cast(experiment_id as {{ text }}) as experiment_id,
    cast(check_name as {{ text }}) as check_name,
    cast(dimension as {{ text }}) as dimension,
    cast(segment as {{ text }}) as segment,
    cast(statistic as {{ hte_double() }}) as statistic,
    cast(df as {{ dbt.type_int() }}) as df,
    cast(p_value as {{ hte_double() }}) as p_value,
    cast(threshold as {{ hte_double() }}) as threshold,
    cast(status as {{ text }}) as status,
    cast(case when status = 'alert' then '{{ severity }}' end as {{ text }}) as severity,
    cast(message as {{ text }}) as message
{%- endmacro %}
