{#- Both runs of each row of a history side by side, for hte_alerts: the row's `keys`, the `carried` columns (the
    same at both dates), the previous run date, and for each (column, name) of `compared` its value before
    (`name`_before, at the experiment's previous run date) and after (`name`_after, at this run's date), then the
    `after_only` ones. Grouped by the keys instead of a full outer join: PostgreSQL allows a full join only on
    hash- or merge-joinable conditions, and group by treats null keys as one value. Expects the CTEs
    previous_dates and current_date_param of hte_alerts. -#}
{% macro hte_runs_side_by_side(history, keys, compared, carried=[], after_only=[]) -%}
    select
        {{ hte_key_columns(keys, 'h') }},
        {%- for column in carried %}
        max(h.{{ column }}) as {{ column }},
        {%- endfor %}
        max(p.previous_run_date) as previous_run_date,
        {%- for column, name in compared %}
        max(case when h.run_date = p.previous_run_date then h.{{ column }} end) as {{ name }}_before,
        max(case when h.run_date = c.run_date then h.{{ column }} end) as {{ name }}_after
        {{- "," if not loop.last or after_only }}
        {%- endfor %}
        {%- for column, name in after_only %}
        max(case when h.run_date = c.run_date then h.{{ column }} end) as {{ name }}_after
        {{- "," if not loop.last }}
        {%- endfor %}
    from {{ history }} h
    join previous_dates p
        on p.experiment_id = h.experiment_id
    cross join current_date_param c
    where h.run_date = p.previous_run_date or h.run_date = c.run_date
    group by {{ hte_key_columns(keys, 'h') }}
{%- endmacro %}
