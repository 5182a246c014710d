{#- Summable sufficient statistics per experiment × metric × arm × full cross-classification of the (folded)
    segment columns. Segment-level statistics are rolled up from these cells (hte_segment_stats), and interaction
    regressions on categorical segments are fit exactly from them: OLS with categorical regressors needs only n,
    Σy and Σy² per cell (and Σx, Σx², Σxy for a pre-period covariate).

    Rolled up from int_hte_raw_cells (the one pass over the units), with each raw level replaced by its folded
    level: a unit without an outcome row is in n and adds 0 to every sum, which is what y = 0 (and x = 0 when the
    metric has a pre-period) means for it in int_hte_units. -#}
{%- set segment_columns = hte_segment_columns() -%}
{#- a cell: experiment × metric × arm × one level of every segment column (selected and grouped by) -#}
{%- set cell_key -%}
f.experiment_id, f.metric, f.arm{% for column in segment_columns %}, f.{{ adapter.quote(column) }}{% endfor %}
{%- endset -%}

with raw_cells as (
    select * from {{ ref('int_hte_raw_cells') }}
    where arm is not null
),

-- a metric belongs to an experiment with an outcome row for it; staging guarantees pre_value is on every row of
-- an experiment × metric or on none
experiment_metrics as (
    select
        experiment_id,
        metric,
        case when sum(n_units_with_pre_value) = sum(n_rows) then true else false end as has_pre_period
    from raw_cells
    group by experiment_id, metric
    having sum(n_rows) > 0
),

folded as (
    select
        c.experiment_id,
        c.metric,
        c.arm
        {%- for column in segment_columns %},
        coalesce(l{{ loop.index }}.segment, '(missing)') as {{ adapter.quote(column) }}
        {%- endfor %},
        c.n_units,
        c.sum_y,
        c.sum_y2,
        c.sum_x,
        c.sum_x2,
        c.sum_xy
    from raw_cells c
    {%- for column in segment_columns %}
    left join {{ ref('int_hte_segment_levels') }} l{{ loop.index }}
        on l{{ loop.index }}.experiment_id = c.experiment_id
        and l{{ loop.index }}.dimension = {{ hte_string_literal(column) }}
        and l{{ loop.index }}.raw_segment = c.{{ adapter.quote(column) }}
    {%- endfor %}
)

select
    {{ cell_key }},
    cast(sum(f.n_units) as {{ dbt.type_bigint() }}) as n,
    coalesce(sum(f.sum_y), 0) as sum_y,
    coalesce(sum(f.sum_y2), 0) as sum_y2,
    case when m.has_pre_period then coalesce(sum(f.sum_x), 0) end as sum_x,
    case when m.has_pre_period then coalesce(sum(f.sum_x2), 0) end as sum_x2,
    case when m.has_pre_period then coalesce(sum(f.sum_xy), 0) end as sum_xy,
    m.has_pre_period
from folded f
join experiment_metrics m
    on m.experiment_id = f.experiment_id
    and m.metric = f.metric
group by
    {{ cell_key }},
    m.has_pre_period
