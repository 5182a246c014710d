{#- Lift by assignment cohort: per experiment × metric × treatment arm × dimension × segment × cohort week (the
    week of assigned_at, weeks starting on Monday), the Welch difference in means of the units assigned that
    week, with its normal interval and p-value (the formulas of hte_segment_lifts). Dimension 'overall' / segment
    'all' is the whole cohort. hte_cohort_trends fits a trend across the cohorts of each row group.

    Why by cohort: a novelty effect (users react to anything new, then return to their habits) or adaptation
    (users learn to use the change) makes the effect depend on how long a unit has been treated. At one run date,
    the earliest cohort has been exposed longest, so a lift that shrinks (or grows) from early to late cohorts
    shows it. What cohorts cannot separate at one run date: exposure length and cohort membership (who arrives in
    week 1 differs from who arrives in week 4) move together; docs/monitoring.md says how the history helps.

    This is one more scan of the units (int_hte_units joined to the assignments for assigned_at): the cell
    statistics carry no assignment time. Every cohort × treatment arm gets a row, with n = 0 when an arm has no
    unit in it. -#}
{{ config(materialized='table') }}
{%- set segment_columns = hte_segment_columns() -%}
{%- set alpha = hte_config_alpha() -%}
{%- set min_units = hte_config_number('hte_cohort_min_units',
    'be a whole number of units per arm, 2 or more (e.g. 30)', at_least=2) %}
{#- a cell's key, beside its arm: one per experiment × metric × dimension × segment × cohort week -#}
{%- set cell_keys = ['experiment_id', 'metric', 'dimension', 'segment', 'cohort_week'] %}

with params as (
    {{ hte_interval_params(alpha) }}
),

treatment_arms as (
    {{ hte_treatment_arms() }}
),

unit_cohorts as (
    select
        u.experiment_id,
        u.metric,
        u.arm,
        cast({{ dbt.date_trunc('week', 'a.assigned_at') }} as date) as cohort_week,
        u.y
        {%- for column in segment_columns %},
        u.{{ adapter.quote(column) }}
        {%- endfor %}
    from {{ ref('int_hte_units') }} u
    join {{ ref('stg_hte_assignments') }} a
        on a.experiment_id = u.experiment_id
        and a.unit_id = u.unit_id
),

cohort_stats as (
    select experiment_id, metric, 'overall' as dimension, 'all' as segment, cohort_week, arm,
        count(*) as n, sum(y) as sum_y, sum(y * y) as sum_y2
    from unit_cohorts
    group by experiment_id, metric, cohort_week, arm
    {%- for column in segment_columns %}

    union all

    select experiment_id, metric, {{ hte_string_literal(column) }} as dimension, {{ adapter.quote(column) }} as segment,
        cohort_week, arm, count(*) as n, sum(y) as sum_y, sum(y * y) as sum_y2
    from unit_cohorts
    group by experiment_id, metric, {{ adapter.quote(column) }}, cohort_week, arm
    {%- endfor %}
),

-- dimensions with no observed feature value in an experiment are left out, as in hte_segment_stats
observed_dimensions as (
    select distinct experiment_id, dimension
    from {{ ref('int_hte_segment_levels') }}
    where is_observed
),

cells as (
    select s.*
    from cohort_stats s
    left join observed_dimensions d
        on d.experiment_id = s.experiment_id
        and d.dimension = s.dimension
    where s.dimension = 'overall' or d.dimension is not null
),

-- every cell key, with its experiment's first cohort week: a cohort's order is the whole weeks since then, so a week
-- without assignments keeps its gap
keys as (
    select distinct
        experiment_id, metric, dimension, segment, cohort_week,
        min(cohort_week) over (partition by experiment_id) as first_week
    from cells
),

paired as (
    select
        k.experiment_id,
        k.metric,
        a.arm,
        a.control_arm,
        k.dimension,
        k.segment,
        k.cohort_week,
        cast({{ dbt.datediff('k.first_week', 'k.cohort_week', 'day') }} as {{ hte_double() }}) / 7.0e0 as cohort_index,
        {{ hte_sums_or_zero('t', '_t') }},
        {{ hte_sums_or_zero('c', '_c') }}
    {{ hte_paired_cells('keys', 'cells', cell_keys) }}
),

-- each arm's mean and the Welch lift (macro hte_welch_lifts), the formulas of hte_segment_lifts
lifts as (
    {{ hte_welch_lifts('paired') }}
)

select
    l.experiment_id,
    l.metric,
    l.arm,
    l.control_arm,
    l.dimension,
    l.segment,
    l.cohort_week,
    l.cohort_index,
    cast(l.n_t as {{ dbt.type_bigint() }}) as n_treatment,
    cast(l.n_c as {{ dbt.type_bigint() }}) as n_control,
    l.mean_t as mean_treatment,
    l.mean_c as mean_control,
    l.lift_abs,
    l.lift_abs_se,
    {{ hte_normal_interval('l.lift_abs', 'l.lift_abs_se', 'prm.z_critical', 'lift_abs') }},
    case when l.lift_abs_se > 0 then {{ hte_normal_two_sided_p('l.lift_abs / l.lift_abs_se') }} end as p_value,
    case
        when least(l.n_t, l.n_c) < {{ min_units }} then 'too_small'
        when not (l.lift_abs_se > 0) or l.lift_abs_se is null then 'not_estimable'
        else 'ok'
    end as status,
    -- only 'ok' cohorts enter the trend: a normal se needs enough units per arm
    case when least(l.n_t, l.n_c) >= {{ min_units }} and l.lift_abs_se > 0 then true else false end as in_trend
from lifts l
cross join params prm
