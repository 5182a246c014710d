{{ config(post_hook="{{ hte_assert_joined_inputs(this) }}") }}
{#- The one pass over the unit-level data: per experiment × arm × raw level of every segment column × metric,
    the units and the sums of their outcomes. Everything downstream is computed from these cells: the levels of
    each segment column and their folding (int_hte_segment_levels), then the cells of folded levels
    (hte_cell_stats). Folding cells instead of units keeps the level look-ups off the ten-million-row path.

    The same pass counts what the input rules that need the join of the inputs look for: assigned units without
    a feature row, features observed after assignment, outcome rows of units with no assignment (the full join
    keeps them, with a null arm) and units with two rows for a metric. Its post-hook (macro
    hte_assert_joined_inputs) raises on them, naming an example, before anything reads the cells.

    Outcome rows are first reduced to one row per experiment × unit, one column per configured metric, so that the
    join to the units is one-to-one and a unit's row count per metric shows duplicates. The squares and products
    are taken per unit after that reduction: with one row per unit × metric (the post-hook guarantees it) the
    unit's value is its row's value, and y = 0, x = 0 for a unit without a row adds nothing. -#}
{%- set segment_columns = hte_segment_columns() -%}
{#- the cell of a unit, beside its experiment: its arm and its level of every segment column -#}
{%- set arm_and_segments -%}
u.arm{% for column in segment_columns %}, u.{{ adapter.quote(column) }}{% endfor %}
{%- endset -%}
{%- set metrics = hte_metrics() -%}
{%- set text = dbt.type_string() -%}
{%- set row_counts = [] -%}
{%- for name in metrics -%}{%- do row_counts.append('o.n_rows_' ~ loop.index) -%}{%- endfor -%}
{#- the most rows any metric of the unit has (greatest() needs two arguments on Spark) -#}
{%- set rows_per_unit = 'greatest(' ~ row_counts | join(', ') ~ ')' if row_counts | length > 1 else row_counts[0] -%}

with outcomes_per_unit as (
    select
        experiment_id,
        unit_id
        {%- for name in metrics %}
        {%- set metric = hte_string_literal(name) %},
        count(case when metric = {{ metric }} then 1 end) as n_rows_{{ loop.index }},
        sum(case when metric = {{ metric }} then value end) as y_{{ loop.index }},
        sum(case when metric = {{ metric }} then pre_value end) as x_{{ loop.index }}
        {%- endfor %}
    from {{ ref('stg_hte_outcomes') }}
    group by experiment_id, unit_id
),

units as (
    select
        a.experiment_id,
        a.unit_id,
        a.arm,
        case when f.unit_id is null then 1 end as without_features,
        case when f.features_at > a.assigned_at then 1 end as late_features
        {%- for column in segment_columns %},
        {{ hte_segment_value('f.' ~ adapter.quote(column)) }} as {{ adapter.quote(column) }}
        {%- endfor %}
    from {{ ref('stg_hte_assignments') }} a
    left join {{ ref('stg_hte_unit_features') }} f on {{ hte_feature_join('f', 'a') }}
),

cells as (
    select
        coalesce(u.experiment_id, o.experiment_id) as experiment_id,
        {{ arm_and_segments }},
        count(u.unit_id) as n_units,
        count(u.without_features) as n_units_without_features,
        count(u.late_features) as n_units_with_late_features,
        max({{ rows_per_unit }}) as max_rows_per_unit
        {%- for name in metrics %}
        {%- set i = loop.index %},
        sum(o.n_rows_{{ i }}) as n_rows_{{ i }},
        count(o.x_{{ i }}) as n_pre_{{ i }},
        sum(o.y_{{ i }}) as sum_y_{{ i }},
        sum(o.y_{{ i }} * o.y_{{ i }}) as sum_y2_{{ i }},
        sum(o.x_{{ i }}) as sum_x_{{ i }},
        sum(o.x_{{ i }} * o.x_{{ i }}) as sum_x2_{{ i }},
        sum(o.x_{{ i }} * o.y_{{ i }}) as sum_xy_{{ i }}
        {%- endfor %}
    from units u
    full outer join outcomes_per_unit o
        on o.experiment_id = u.experiment_id
        and o.unit_id = u.unit_id
    group by
        coalesce(u.experiment_id, o.experiment_id),
        {{ arm_and_segments }}
),

metrics as (
    {%- for name in metrics %}
    select {{ loop.index }} as metric_index, {{ hte_string_literal(name) }} as metric
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
)

{#- a per-metric column of `cells`, picked by the metric of the row it is unpivoted to -#}
{%- set by_metric = {} -%}
{%- for prefix in ['n_rows', 'n_pre', 'sum_y', 'sum_y2', 'sum_x', 'sum_x2', 'sum_xy'] -%}
  {%- set whens = [] -%}
  {%- for name in metrics -%}{%- do whens.append(' when ' ~ loop.index ~ ' then c.' ~ prefix ~ '_' ~ loop.index) -%}{%- endfor -%}
  {%- do by_metric.update({prefix: 'case m.metric_index' ~ whens | join('') ~ ' end'}) -%}
{%- endfor %}

-- unpivoted after the aggregation, on cells, not on units
select
    c.experiment_id,
    m.metric,
    c.arm
    {%- for column in segment_columns %},
    c.{{ adapter.quote(column) }}
    {%- endfor %},
    c.n_units,
    c.n_units_without_features,
    c.n_units_with_late_features,
    c.max_rows_per_unit,
    coalesce({{ by_metric['n_rows'] }}, 0) as n_rows,
    {{ by_metric['n_pre'] }} as n_units_with_pre_value
    {%- for column in ['sum_y', 'sum_y2', 'sum_x', 'sum_x2', 'sum_xy'] %},
    {{ by_metric[column] }} as {{ column }}
    {%- endfor %}
from cells c
cross join metrics m
