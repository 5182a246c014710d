{#- Levels of every segment column per experiment, counted over assigned units, and the folding of rare levels:
    a dimension keeps its hte_max_segments_per_dimension largest levels and folds the rest into '(other)', so a
    high-cardinality column cannot explode the cells or the multiple-testing family. '(missing)' is never folded. -#}
{%- set segment_columns = hte_segment_columns() -%}
{%- set max_levels = var('hte_max_segments_per_dimension') | int -%}

with unit_segments as (
    select
        a.experiment_id
        {%- for column in segment_columns %},
        {{ hte_segment_value('f.' ~ adapter.quote(column)) }} as segment_{{ loop.index }}
        {%- endfor %}
    from {{ ref('stg_hte_assignments') }} a
    join {{ ref('stg_hte_unit_features') }} f on {{ hte_feature_join('f', 'a') }}
),

dimensions as (
    {%- for column in segment_columns %}
    select {{ loop.index }} as dimension_index, {{ hte_string_literal(column) }} as dimension
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

-- one scan of the units, unpivoted by a cross join with the (tiny) dimension list
unit_levels as (
    select
        u.experiment_id,
        d.dimension,
        case d.dimension_index
            {%- for column in segment_columns %}
            when {{ loop.index }} then u.segment_{{ loop.index }}
            {%- endfor %}
        end as raw_segment
    from unit_segments u
    cross join dimensions d
),

counted as (
    select experiment_id, dimension, raw_segment, count(*) as n_units
    from unit_levels
    group by experiment_id, dimension, raw_segment
),

ranked as (
    select
        experiment_id,
        dimension,
        raw_segment,
        n_units,
        row_number() over (
            partition by experiment_id, dimension
            order by case when raw_segment = '(missing)' then 1 else 0 end, n_units desc, raw_segment
        ) as level_rank,
        sum(case when raw_segment = '(missing)' then 0 else 1 end)
            over (partition by experiment_id, dimension) as n_observed_levels
    from counted
)

select
    experiment_id,
    dimension,
    raw_segment,
    case
        when raw_segment = '(missing)' or level_rank <= {{ max_levels }} then raw_segment
        else '(other)'
    end as segment,
    n_units,
    level_rank,
    case when raw_segment <> '(missing)' and level_rank > {{ max_levels }} then true else false end as is_folded,
    -- a column with no value at all for an experiment is not one of its dimensions
    case when n_observed_levels > 0 then true else false end as is_observed
from ranked
