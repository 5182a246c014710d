{#- Sufficient statistics per experiment × metric × dimension × segment × arm, rolled up from the cells (they are
    summable, so this never touches unit rows). Dimension 'overall' / segment 'all' is the whole experiment. -#}
{%- set segment_columns = hte_segment_columns() -%}

with cells as (
    select * from {{ ref('hte_cell_stats') }}
),

observed_dimensions as (
    select distinct experiment_id, dimension
    from {{ ref('int_hte_segment_levels') }}
    where is_observed
),

rolled_up as (
    select experiment_id, metric, 'overall' as dimension, 'all' as segment, arm,
        sum(n) as n, sum(sum_y) as sum_y, sum(sum_y2) as sum_y2,
        sum(sum_x) as sum_x, sum(sum_x2) as sum_x2, sum(sum_xy) as sum_xy,
        min(case when has_pre_period then 1 else 0 end) as has_pre_period_flag
    from cells
    group by experiment_id, metric, arm
    {%- for column in segment_columns %}

    union all

    select experiment_id, metric, {{ hte_string_literal(column) }} as dimension, {{ adapter.quote(column) }} as segment, arm,
        sum(n) as n, sum(sum_y) as sum_y, sum(sum_y2) as sum_y2,
        sum(sum_x) as sum_x, sum(sum_x2) as sum_x2, sum(sum_xy) as sum_xy,
        min(case when has_pre_period then 1 else 0 end) as has_pre_period_flag
    from cells
    group by experiment_id, metric, {{ adapter.quote(column) }}, arm
    {%- endfor %}
)

select
    r.experiment_id,
    r.metric,
    r.dimension,
    r.segment,
    r.arm,
    r.n,
    r.sum_y,
    r.sum_y2,
    r.sum_x,
    r.sum_x2,
    r.sum_xy,
    case when r.has_pre_period_flag = 1 then true else false end as has_pre_period,
    r.sum_y / r.n as mean_y,
    -- sample variance (ddof 1) from the sums, with the rounding guard of the lifts; null for a single unit
    case when r.n > 1 then {{ hte_centered_sum_of_squares('r.n', 'r.sum_y', 'r.sum_y2') }} / (r.n - 1) end as var_y
from rolled_up r
left join observed_dimensions d
    on d.experiment_id = r.experiment_id
    and d.dimension = r.dimension
where r.dimension = 'overall' or d.dimension is not null
