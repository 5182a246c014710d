{#- The interaction summary: per experiment × metric × dimension × segment × treatment arm, the segment's lift
    minus the lift of the rest of its dimension (all other units of the experiment), with a Welch standard error.

    The rest's statistics are the overall statistics minus the segment's (they are summable). The segment and
    the rest are disjoint sets of units, so their lifts are independent and se² = se_segment² + se_rest².
    The family, the adjustment method and the verdict rules are those of hte_segment_lifts; a difference is
    'too_small' when the smaller arm of either side is under hte_min_segment_size.

    As in hte_segment_lifts, `difference_ci_low_adj` / `_high_adj` are drawn at the level the multiple-testing
    method gives each test (macro hte_adjusted_level), so they agree with the verdict, and `practical_verdict`
    compares the difference with the metric's minimum effect worth acting on. A relative threshold
    (min_effect_relative) is turned into the metric's units with the experiment's overall control mean: a
    difference of lifts has no control mean of its own. -#}
{%- set alpha = hte_config_alpha() -%}
{%- set min_size = hte_config_min_segment_size() -%}
{%- set method = hte_config_p_adjust_method() -%}
{%- set family = hte_config_family_columns() -%}
{#- a segment's key (a difference is one per segment × treatment arm) -#}
{%- set segment_keys = ['experiment_id', 'metric', 'dimension', 'segment'] -%}

-- depends_on: {{ ref('stg_hte_experiments') }}
with params as (
    {{ hte_interval_params(alpha) }}
),

{{ hte_segment_lift_inputs() }},

overall as (
    select experiment_id, metric, arm, n, sum_y, sum_y2
    from stats
    where dimension = 'overall'
),

segments as (
    select distinct experiment_id, metric, dimension, segment
    from stats
    where dimension <> 'overall'
),

-- segment and rest (overall − segment) of every declared arm; an arm with no unit in the segment (or in the
-- experiment) counts 0 units rather than disappearing
sides as (
    select
        {{ hte_key_columns(segment_keys, 's') }},
        a.arm,
        {{ hte_sums_or_zero('g', '_segment') }},
        coalesce(o.n, 0) - coalesce(g.n, 0) as n_rest,
        coalesce(o.sum_y, 0.0e0) - coalesce(g.sum_y, 0.0e0) as sum_y_rest,
        coalesce(o.sum_y2, 0.0e0) - coalesce(g.sum_y2, 0.0e0) as sum_y2_rest
    from segments s
    join {{ ref('stg_hte_experiments') }} a
        on a.experiment_id = s.experiment_id
    left join overall o
        on o.experiment_id = s.experiment_id and o.metric = s.metric and o.arm = a.arm
    left join stats g
        on {{ hte_same_keys('g', 's', segment_keys) }} and g.arm = a.arm
),

-- per arm and side: mean and squared standard error of the mean (s² / n, ddof 1; null under 2 units)
side_moments as (
    select
        experiment_id, metric, dimension, segment, arm, n_segment, n_rest,
        case when n_segment > 0 then sum_y_segment / n_segment end as mean_segment,
        case
            when n_segment > 1
                then {{ hte_centered_sum_of_squares('n_segment', 'sum_y_segment', 'sum_y2_segment') }} / (n_segment - 1) / n_segment
        end as var_mean_segment,
        case when n_rest > 0 then sum_y_rest / n_rest end as mean_rest,
        case
            when n_rest > 1
                then {{ hte_centered_sum_of_squares('n_rest', 'sum_y_rest', 'sum_y2_rest') }} / (n_rest - 1) / n_rest
        end as var_mean_rest
    from sides
),

estimates as (
    select
        t.experiment_id,
        t.metric,
        t.dimension,
        t.segment,
        a.arm,
        a.control_arm,
        t.n_segment as n_segment_treatment,
        c.n_segment as n_segment_control,
        t.n_rest as n_rest_treatment,
        c.n_rest as n_rest_control,
        t.mean_segment - c.mean_segment as lift_segment,
        sqrt(t.var_mean_segment + c.var_mean_segment) as lift_segment_se,
        t.mean_rest - c.mean_rest as lift_rest,
        sqrt(t.var_mean_rest + c.var_mean_rest) as lift_rest_se,
        (t.mean_segment - c.mean_segment) - (t.mean_rest - c.mean_rest) as difference,
        sqrt(t.var_mean_segment + c.var_mean_segment + t.var_mean_rest + c.var_mean_rest) as difference_se
    from treatment_arms a
    join side_moments t
        on t.experiment_id = a.experiment_id and t.arm = a.arm
    join side_moments c
        on c.experiment_id = t.experiment_id and c.metric = t.metric and c.dimension = t.dimension
        and c.segment = t.segment and c.arm = a.control_arm
),

tested as (
    select
        e.*,
        prm.alpha,
        prm.z_critical,
        prm.z_tost,
        case
            when least(n_segment_treatment, n_segment_control, n_rest_treatment, n_rest_control) < {{ min_size }} then true
            else false
        end as is_too_small,
        case when difference_se > 0 then {{ hte_normal_two_sided_p('difference / difference_se') }} end as p_value
    from estimates e
    cross join params prm
),

{{ hte_family_adjustment('tested', family, method, where='not is_too_small') }},

-- the level of each tested difference's adjusted interval
adjusted_levels as (
    select
        t.*,
        f.p_value_adj,
        f.family_size,
        f.family_rejections,
        case when f.family_size is not null then {{ hte_adjusted_level(method, 't.alpha', 'f.family_size', 'f.family_rejections') }} end as alpha_adjusted,
        case when f.family_size is not null
            then 1.0e0 - ({{ hte_adjusted_level(method, 't.alpha', 'f.family_size', 'f.family_rejections') }}) / 2.0e0
        end as adjusted_quantile_p
    from tested t
    left join family_sizes f
        on f.experiment_id = t.experiment_id and f.metric = t.metric and f.dimension = t.dimension
        and f.segment = t.segment and f.arm = t.arm
),

adjusted_critical as (
    {{ hte_normal_quantile_column('adjusted_levels', 'adjusted_quantile_p', 'z_critical_adj') }}
),

-- the threshold in the metric's units: a relative one times the experiment's overall control mean
adjusted_intervals as (
    select
        a.*,
        {{ hte_normal_interval('a.difference', 'a.difference_se', 'a.z_critical_adj', 'difference', '_adj') }},
        coalesce(th.min_effect, th.min_effect_relative * abs(o.sum_y / o.n)) as practical_threshold,
        case when a.is_too_small or a.p_value is null then false else true end as is_tested
    from adjusted_critical a
    left join thresholds th
        on th.metric = a.metric
    left join overall o
        on o.experiment_id = a.experiment_id and o.metric = a.metric and o.arm = a.control_arm and o.n > 0
)

select
    t.experiment_id,
    t.metric,
    t.dimension,
    t.segment,
    t.arm,
    t.control_arm,
    t.n_segment_treatment,
    t.n_segment_control,
    t.n_rest_treatment,
    t.n_rest_control,
    t.lift_segment,
    t.lift_rest,
    t.difference,
    t.difference_se,
    {{ hte_normal_interval('t.difference', 't.difference_se', 't.z_critical', 'difference') }},
    t.p_value,
    t.p_value_adj,
    {{ hte_verdict('t.is_too_small', 't.p_value', 't.p_value_adj', 't.alpha', 't.difference') }} as verdict,
    t.lift_segment_se,
    t.lift_rest_se,
    t.is_too_small,
    t.family_size,
    t.alpha,
    t.z_critical,
    t.family_rejections,
    t.alpha_adjusted,
    t.z_critical_adj,
    t.difference_ci_low_adj,
    t.difference_ci_high_adj,
    t.practical_threshold,
    case
        when t.is_tested and t.practical_threshold is not null
            then {{ hte_equivalence_p_value('t.difference', 't.difference_se', 't.practical_threshold') }}
    end as p_value_equivalence,
    {{ hte_practical_verdict('t.difference', 't.difference_se', 't.practical_threshold',
                             't.difference_ci_low_adj', 't.difference_ci_high_adj', 't.z_tost', 't.is_tested') }}
        as practical_verdict
from adjusted_intervals t
