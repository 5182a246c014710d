{#- This build's rows of a history model: `columns` of `relation` (the output as it stands today), led by the run
    date they belong to (var hte_run_date, else today in UTC) and when the build that wrote them ran. The
    incremental contract (delete+insert on run_date) is the histories' shared config in monitoring.yml. -#}
{% macro hte_history_rows(relation, columns, where=none) -%}
select
    {{ hte_run_date_sql() }} as run_date,
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }}) as run_at,
    {{ columns | join(',\n    ') }}
from {{ relation }}
{%- if where is not none %}
where {{ where }}
{%- endif %}
{%- endmacro %}
