{{ config(materialized='view') }}
{#- The unit table: one row per experiment × assigned unit × metric of the experiment, with its arm, outcome,
    pre-period value and (folded) segment of every dimension. A unit without an outcome row counts as 0 (DESIGN);
    its pre-period value then is 0 as well. A metric belongs to an experiment when the experiment has an outcome
    row for it. Kept as a view: the SQL models never scan it (hte_cell_stats is rolled up from int_hte_raw_cells,
    the same numbers per cell); the Python models read it, and only after int_hte_raw_cells has passed the input
    checks, since it reads int_hte_segment_levels. -#}
{%- set segment_columns = hte_segment_columns() -%}

with experiment_metrics as (
    select
        experiment_id,
        metric,
        -- staging guarantees pre_value is on every row of an experiment × metric or on none
        case when count(pre_value) = count(*) then true else false end as has_pre_period
    from {{ ref('stg_hte_outcomes') }}
    group by experiment_id, metric
),

unit_segments as (
    select
        a.experiment_id,
        a.unit_id,
        a.arm,
        a.cluster_id
        {%- for column in segment_columns %},
        coalesce(l{{ loop.index }}.segment, '(missing)') as {{ adapter.quote(column) }}
        {%- endfor %}
    from {{ ref('stg_hte_assignments') }} a
    join {{ ref('stg_hte_unit_features') }} f on {{ hte_feature_join('f', 'a') }}
    {%- for column in segment_columns %}
    left join {{ ref('int_hte_segment_levels') }} l{{ loop.index }}
        on l{{ loop.index }}.experiment_id = a.experiment_id
        and l{{ loop.index }}.dimension = {{ hte_string_literal(column) }}
        and l{{ loop.index }}.raw_segment = {{ hte_segment_value('f.' ~ adapter.quote(column)) }}
    {%- endfor %}
)

select
    u.experiment_id,
    u.unit_id,
    u.arm,
    m.metric,
    coalesce(o.value, 0) as y,
    case when m.has_pre_period then coalesce(o.pre_value, 0) end as x,
    u.cluster_id
    {%- for column in segment_columns %},
    u.{{ adapter.quote(column) }}
    {%- endfor %}
from unit_segments u
{{ hte_join_metric_outcomes() }}
