{#- Each treatment arm against the experiment's control arm, per experiment × metric × dimension × segment:
    Welch difference in means, relative lift (delta method), CUPED-adjusted lift, normal intervals and p-values,
    and the multiple-testing adjustment over the family of segment tests chosen by var hte_p_adjust_family.

    Everything is computed from the summable statistics of hte_segment_stats. Dimension 'overall' / segment 'all'
    is the pre-specified primary test (the ATE): it belongs to no segment family, so its p_value_adj is its p_value.
    A segment whose smaller arm is under hte_min_segment_size keeps its estimates but gets verdict 'too_small' and
    stays out of the family: it can neither be called a win nor dilute the correction of the tests that count.

    Beside the fixed-horizon interval (valid at one pre-planned look), every lift has an always-valid confidence
    sequence and sequential p-value (macros/stats/hte_cs_radius.sql), safe to look at after every scheduled
    build; the sequential p-values are adjusted over the same families. var hte_verdict_basis picks which of the
    two verdicts fills `verdict`; verdict_fixed and verdict_sequential are always both there.

    Adjusted intervals (`_adj`) are drawn at the level the multiple-testing method gives each test of the family
    (macro hte_adjusted_level), so that a fixed-horizon verdict and its adjusted interval agree: the verdict is
    inconclusive whenever the adjusted interval crosses zero. The practical verdict compares the adjusted interval
    with the metric's optional minimum effect worth acting on (min_effect / min_effect_relative in var
    hte_metrics), and calls a lift negligible by an equivalence test (macros/marts/hte_practical_verdict.sql). -#}
{%- set alpha = hte_config_alpha() -%}
{%- set min_size = hte_config_min_segment_size() -%}
{%- set method = hte_config_p_adjust_method() -%}
{%- set family = hte_config_family_columns() -%}
{%- set tuning_n = hte_config_sequential_tuning_n() -%}
{%- set verdict_basis = hte_config_verdict_basis() -%}
{#- a segment's key, and a lift's (one per treatment arm of it) -#}
{%- set segment_keys = ['experiment_id', 'metric', 'dimension', 'segment'] -%}
{%- set lift_keys = segment_keys + ['arm'] -%}

-- depends_on: {{ ref('stg_hte_experiments') }}
with params as (
    select
        fixed_params.*,
        {{ hte_cs_rho_squared(alpha, tuning_n) }} as cs_rho2
    from ({{ hte_interval_params(alpha) }}) fixed_params
),

{{ hte_segment_lift_inputs() }},

segments as (
    select distinct experiment_id, metric, dimension, segment
    from stats
),

-- every segment × treatment arm, even when an arm has no unit in the segment (n = 0 then, never a missing row)
paired as (
    select
        {{ hte_key_columns(segment_keys, 'k') }},
        a.arm,
        a.control_arm,
        coalesce(t.n, 0) as n_t,
        t.sum_y as sum_y_t, t.sum_y2 as sum_y2_t, t.sum_x as sum_x_t, t.sum_x2 as sum_x2_t, t.sum_xy as sum_xy_t,
        coalesce(c.n, 0) as n_c,
        c.sum_y as sum_y_c, c.sum_y2 as sum_y2_c, c.sum_x as sum_x_c, c.sum_x2 as sum_x2_c, c.sum_xy as sum_xy_c,
        case when t.has_pre_period and c.has_pre_period then true else false end as has_pre_period
    {{ hte_paired_cells('segments', 'stats', segment_keys) }}
),

-- within-arm centred sums (S_yy, S_xx, S_xy) and means
moments as (
    select
        p.*,
        case when n_t > 0 then sum_y_t / n_t end as mean_t,
        case when n_c > 0 then sum_y_c / n_c end as mean_c,
        case when n_t > 0 then sum_x_t / n_t end as mean_x_t,
        case when n_c > 0 then sum_x_c / n_c end as mean_x_c,
        {{ hte_centered_sum_of_squares('n_t', 'sum_y_t', 'sum_y2_t') }} as s_yy_t,
        {{ hte_centered_sum_of_squares('n_c', 'sum_y_c', 'sum_y2_c') }} as s_yy_c,
        {{ hte_centered_sum_of_squares('n_t', 'sum_x_t', 'sum_x2_t') }} as s_xx_t,
        {{ hte_centered_sum_of_squares('n_c', 'sum_x_c', 'sum_x2_c') }} as s_xx_c,
        {{ hte_centered_cross_product('n_t', 'sum_x_t', 'sum_y_t', 'sum_xy_t') }} as s_xy_t,
        {{ hte_centered_cross_product('n_c', 'sum_x_c', 'sum_y_c', 'sum_xy_c') }} as s_xy_c
    from paired p
),

-- squared standard errors of the two arm means (s² / n with ddof 1); null with fewer than 2 units in an arm
mean_variances as (
    select
        m.*,
        case when n_t > 1 then s_yy_t / (n_t - 1) / n_t end as var_mean_t,
        case when n_c > 1 then s_yy_c / (n_c - 1) / n_c end as var_mean_c,
        -- CUPED θ from the pooled within-arm covariance: pooling within arms keeps the treatment effect out of
        -- the slope, and one θ for both arms keeps the adjusted difference unbiased (Deng et al. 2013). When y
        -- is constant within both arms (S_yy = 0 after the rounding clamp), S_xy is 0 by Cauchy-Schwarz; the
        -- one-pass cross products are rounding noise of either sign there, which would give a noise θ and a
        -- 1e-16 standard error instead of none
        case
            when has_pre_period and n_t > 1 and n_c > 1 and s_xx_t + s_xx_c > 0 and s_yy_t + s_yy_c = 0
                then 0.0e0
            when has_pre_period and n_t > 1 and n_c > 1 and s_xx_t + s_xx_c > 0
                then (s_xy_t + s_xy_c) / (s_xx_t + s_xx_c)
        end as cuped_theta
    from moments m
),

estimates as (
    select
        v.*,
        mean_t - mean_c as lift_abs,
        sqrt(var_mean_t + var_mean_c) as lift_abs_se,
        case when mean_c <> 0 then mean_t / mean_c - 1.0e0 end as lift_rel,
        -- delta method for a ratio of independent means: Var(ȳT/ȳC) ≈ Var(ȳT)/ȳC² + ȳT²·Var(ȳC)/ȳC⁴
        case
            when mean_c <> 0
                then sqrt(var_mean_t / (mean_c * mean_c) + mean_t * mean_t * var_mean_c / (mean_c * mean_c * mean_c * mean_c))
        end as lift_rel_se,
        (mean_t - mean_c) - cuped_theta * (mean_x_t - mean_x_c) as lift_cuped,
        -- variance of the adjusted outcome y − θx within each arm (macro hte_adjusted_variance), divided by n
        case when cuped_theta is not null then sqrt(
            {{ hte_adjusted_variance('s_yy_t', 's_xy_t', 's_xx_t', 'cuped_theta', 'n_t') }} / n_t
            + {{ hte_adjusted_variance('s_yy_c', 's_xy_c', 's_xx_c', 'cuped_theta', 'n_c') }} / n_c
        ) end as lift_cuped_se
    from mean_variances v
),

tested as (
    select
        e.*,
        prm.alpha,
        prm.z_critical,
        case when dimension <> 'overall' and least(n_t, n_c) < {{ min_size }} then true else false end as is_too_small,
        case when lift_abs_se > 0 then {{ hte_normal_two_sided_p('lift_abs / lift_abs_se') }} end as p_value,
        case when lift_cuped_se > 0 then {{ hte_normal_two_sided_p('lift_cuped / lift_cuped_se') }} end as lift_cuped_p_value,
        -- the confidence sequence counts the units of both arms (t = n_t + n_c, sigma^2 = t * se^2)
        {{ hte_cs_radius('lift_abs_se', 'n_t + n_c', 'prm.cs_rho2', 'prm.alpha') }} as lift_abs_cs_radius,
        {{ hte_cs_p_value('lift_abs', 'lift_abs_se', 'n_t + n_c', 'prm.cs_rho2') }} as p_value_sequential,
        {{ hte_cs_radius('lift_cuped_se', 'n_t + n_c', 'prm.cs_rho2', 'prm.alpha') }} as lift_cuped_cs_radius,
        {{ hte_cs_p_value('lift_cuped', 'lift_cuped_se', 'n_t + n_c', 'prm.cs_rho2') }} as lift_cuped_p_value_sequential,
        prm.cs_rho2,
        prm.z_tost
    from estimates e
    cross join params prm
),

-- the overall row is the pre-specified primary test: in no family (its adjusted p-value is its p-value, below).
-- The sequential p-values form the same families: an always-valid p-value is a valid p-value at any look, so
-- Holm, Bonferroni and BH apply to them unchanged.
{{ hte_family_adjustment('tested', family, method, where="dimension <> 'overall' and not is_too_small") }},

{{ hte_family_adjustment('tested', family, method, where="dimension <> 'overall' and not is_too_small",
                         p_col='p_value_sequential', out_col='p_value_sequential_adj', prefix='sequential_') }},

combined as (
    select
        t.*,
        case when t.dimension = 'overall' then t.p_value else f.p_value_adj end as p_value_adj,
        case when t.dimension = 'overall' and t.p_value is not null then 1 else f.family_size end as family_size,
        case
            when t.dimension = 'overall' and t.p_value is not null
                then case when t.p_value < t.alpha then 1 else 0 end
            else f.family_rejections
        end as family_rejections,
        case when t.dimension = 'overall' then t.p_value_sequential else q.p_value_sequential_adj end as p_value_sequential_adj
    from tested t
    left join family_sizes f
        on {{ hte_same_keys('f', 't', lift_keys) }}
    left join sequential_adjusted q
        on {{ hte_same_keys('q', 't', lift_keys) }}
),

verdicts as (
    select
        c.*,
        {{ hte_verdict('is_too_small', 'p_value', 'p_value_adj', 'alpha', 'lift_abs') }} as verdict_fixed,
        {{ hte_verdict('is_too_small', 'p_value_sequential', 'p_value_sequential_adj', 'alpha', 'lift_abs') }} as verdict_sequential
    from combined c
),

-- the level of each tested lift's adjusted interval; the overall row is a family of one (its level is alpha)
adjusted_levels as (
    select
        v.*,
        case
            when is_too_small or p_value is null or family_size is null then null
            else {{ hte_adjusted_level(method, 'alpha', 'family_size', 'family_rejections') }}
        end as alpha_adjusted,
        case
            when is_too_small or p_value is null or family_size is null then null
            else 1.0e0 - ({{ hte_adjusted_level(method, 'alpha', 'family_size', 'family_rejections') }}) / 2.0e0
        end as adjusted_quantile_p
    from verdicts v
),

adjusted_critical as (
    {{ hte_normal_quantile_column('adjusted_levels', 'adjusted_quantile_p', 'z_critical_adj') }}
),

adjusted_intervals as (
    select
        a.*,
        th.min_effect,
        th.min_effect_relative,
        {{ hte_normal_interval('lift_abs', 'lift_abs_se', 'z_critical_adj', suffix='_adj') }},
        {{ hte_normal_interval('lift_rel', 'lift_rel_se', 'z_critical_adj', suffix='_adj') }},
        case when is_too_small or p_value is null then false else true end as is_tested
    from adjusted_critical a
    left join thresholds th
        on th.metric = a.metric
),

practical as (
    select
        i.*,
        -- a metric has an absolute or a relative threshold, never both (hte_config_practical_thresholds)
        coalesce(
            {{ hte_practical_verdict('lift_abs', 'lift_abs_se', 'min_effect', 'lift_abs_ci_low_adj', 'lift_abs_ci_high_adj', 'z_tost', 'is_tested') }},
            {{ hte_practical_verdict('lift_rel', 'lift_rel_se', 'min_effect_relative', 'lift_rel_ci_low_adj', 'lift_rel_ci_high_adj', 'z_tost', 'is_tested') }}
        ) as practical_verdict,
        case
            when not is_tested then null
            when min_effect is not null then {{ hte_equivalence_p_value('lift_abs', 'lift_abs_se', 'min_effect') }}
            else {{ hte_equivalence_p_value('lift_rel', 'lift_rel_se', 'min_effect_relative') }}
        end as p_value_equivalence
    from adjusted_intervals i
)

select
    experiment_id,
    metric,
    dimension,
    segment,
    arm,
    control_arm,
    n_t as n_treatment,
    n_c as n_control,
    mean_t as mean_treatment,
    mean_c as mean_control,
    lift_abs,
    lift_abs_se,
    {{ hte_normal_interval('lift_abs', 'lift_abs_se', 'z_critical') }},
    lift_rel,
    lift_rel_se,
    {{ hte_normal_interval('lift_rel', 'lift_rel_se', 'z_critical') }},
    lift_cuped,
    lift_cuped_se,
    p_value,
    p_value_adj,
    {{ 'verdict_sequential' if verdict_basis == 'sequential' else 'verdict_fixed' }} as verdict,
    case
        when n_t = 0 or n_c = 0 then 'an arm has no unit in this segment'
        when mean_c = 0 then 'control mean is 0'
    end as lift_rel_note,
    {{ hte_normal_interval('lift_cuped', 'lift_cuped_se', 'z_critical') }},
    lift_cuped_p_value,
    cuped_theta,
    case
        when lift_abs_se > 0 and lift_cuped_se is not null
            then 1.0e0 - (lift_cuped_se * lift_cuped_se) / (lift_abs_se * lift_abs_se)
    end as cuped_variance_reduction,
    case
        when n_t = 0 or n_c = 0 then 'an arm has no unit in this segment'
        when not has_pre_period then 'no pre-period values for this metric'
        when n_t < 2 or n_c < 2 then 'fewer than 2 units in an arm'
        when cuped_theta is null then 'pre-period values do not vary within the arms of this segment'
    end as lift_cuped_note,
    is_too_small,
    family_size,
    alpha,
    z_critical,
    lift_abs - lift_abs_cs_radius as lift_abs_cs_low,
    lift_abs + lift_abs_cs_radius as lift_abs_cs_high,
    p_value_sequential,
    p_value_sequential_adj,
    lift_cuped - lift_cuped_cs_radius as lift_cuped_cs_low,
    lift_cuped + lift_cuped_cs_radius as lift_cuped_cs_high,
    lift_cuped_p_value_sequential,
    verdict_fixed,
    verdict_sequential,
    '{{ verdict_basis }}' as verdict_basis,
    {{ hte_double_literal(tuning_n) }} as sequential_tuning_n,
    sqrt(cs_rho2) as sequential_rho,
    family_rejections,
    alpha_adjusted,
    z_critical_adj,
    lift_abs_ci_low_adj,
    lift_abs_ci_high_adj,
    lift_rel_ci_low_adj,
    lift_rel_ci_high_adj,
    min_effect,
    min_effect_relative,
    p_value_equivalence,
    practical_verdict
from practical
