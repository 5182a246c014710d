{#- Levels of every segment column per experiment, counted over assigned units, and the folding of rare levels:
    a dimension keeps its hte_max_segments_per_dimension largest levels and folds the rest into '(other)', so a
    high-cardinality column cannot explode the cells or the multiple-testing family. '(missing)' is never folded. -#}
{%- set segment_columns = hte_segment_columns() -%}
{%- set max_levels = var('hte_max_segments_per_dimension') | int -%}

{%- set first_metric = hte_string_literal((hte_metrics().keys() | list)[0]) -%}

-- units per cell of raw levels (int_hte_raw_cells repeats them on every metric row: read one), then per level
with unit_cells as (
    select
        experiment_id,
        n_units
        {%- for column in segment_columns %},
        {{ adapter.quote(column) }}
        {%- endfor %}
    from {{ ref('int_hte_raw_cells') }}
    where metric = {{ first_metric }}
        and arm is not null
),

counted as (
    {%- for column in segment_columns %}
    select
        experiment_id,
        {{ hte_string_literal(column) }} as dimension,
        {{ adapter.quote(column) }} as raw_segment,
        cast(sum(n_units) as {{ dbt.type_bigint() }}) as n_units
    from unit_cells
    group by experiment_id, {{ adapter.quote(column) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
),

ranked as (
    select
        experiment_id,
        dimension,
        raw_segment,
        n_units,
        row_number() over (
            partition by experiment_id, dimension
            order by case when raw_segment = '(missing)' then 1 else 0 end asc, n_units desc, raw_segment asc
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
